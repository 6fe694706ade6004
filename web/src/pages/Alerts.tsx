import { NotAvailable } from '../ui.tsx';

export default function Alerts() {
  return <NotAvailable what="this page" />;
}
