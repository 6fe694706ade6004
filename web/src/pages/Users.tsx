import { NotAvailable } from '../ui.tsx';

export default function Users() {
  return <NotAvailable what="this page" />;
}
