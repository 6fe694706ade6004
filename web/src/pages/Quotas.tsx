import { NotAvailable } from '../ui.tsx';

export default function Quotas() {
  return <NotAvailable what="this page" />;
}
