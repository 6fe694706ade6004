import { NotAvailable } from '../ui.tsx';

export default function Collectors() {
  return <NotAvailable what="this page" />;
}
