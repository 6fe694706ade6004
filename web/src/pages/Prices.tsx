import { NotAvailable } from '../ui.tsx';

export default function Prices() {
  return <NotAvailable what="this page" />;
}
