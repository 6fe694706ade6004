import { NotAvailable } from '../ui.tsx';

export default function Analysis() {
  return <NotAvailable what="this page" />;
}
