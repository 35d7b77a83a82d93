-- +goose Up
-- The duplicate window is checked per pupil and station (taps of any badge
-- of the pupil), which taps_badge_station (by badge uid) could not serve:
-- the check scanned every tap of the tenant. Index what the query asks.
CREATE INDEX taps_pupil_station ON taps (tenant_id, pupil_id, station_id, read_at) WHERE verdict = 'accepted';
DROP INDEX taps_badge_station;

-- +goose Down
CREATE INDEX taps_badge_station ON taps (tenant_id, badge_uid, station_id, read_at DESC) WHERE verdict = 'accepted';
DROP INDEX taps_pupil_station;
