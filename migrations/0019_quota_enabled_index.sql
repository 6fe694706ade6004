-- The quota gate asks "is any entitlement enabled?" every snapshot_ttl_ms / 2 while the answer is
-- no (src/quotas/presence.ts). Without an index that is a scan of every entitlement, deleted and
-- disabled ones included; with this partial index it is one lookup in an index that is empty
-- exactly when the answer is no.
CREATE INDEX quota_entitlements_enabled ON quota_entitlements (id) WHERE enabled AND deleted_at IS NULL;
