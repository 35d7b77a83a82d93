// Package terminal is Tartine's point of service: the device API that
// readers' bridges call (HMAC-signed, idempotent per tap id), the tap
// pipeline that turns a badge tap into a verdict and a ledger transfer
// (canteen meals, daycare check-in/check-out, kiosk and enrolment lookups),
// the daycare day-end job, the kiosk cash desk with its drawer closing, and
// the staff screens (live station screen over server-sent events, manual
// entry, enrolment desk, daycare presence list).
//
// # Tap pipeline
//
// Each tap of a batch is applied once: a row in the taps table, keyed by
// (tenant, tap id), is inserted in a transaction that stays open while the
// tap is decided; a concurrent duplicate of the same tap id waits on that row
// and then answers the stored result. The ledger transfer of a tap uses the
// idempotency key "tap:<tap id>", so even a crash between the transfer and
// the tap row cannot charge twice. Taps of the same pupil are serialised by a
// transaction-scoped advisory lock, which makes the duplicate window and the
// daycare toggle exact under concurrency.
//
// Amounts are rounded to cents once, half away from zero, when a charge is
// computed (see DaycareCharge).
package terminal
