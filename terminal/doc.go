// Package terminal is Tartine's tap domain: the device API that readers'
// bridges call (HMAC-signed, idempotent per tap id), the tap pipeline that
// turns a badge tap into a verdict and a ledger transfer (canteen meals,
// daycare check-in/check-out, kiosk and enrolment lookups), the daycare
// day-end job, and the live events of each station (Hub). The staff
// screens that show them are package staff; the kiosk cash desk is
// package kiosk.
//
// # Tap pipeline
//
// Each tap is applied once, in one transaction with one commit: the tap
// row, the ledger transfer (ledger.QueueTransfers, a booked meal's hold
// posted with it) and the booking or daycare session rows commit together
// or not at all. The transaction takes a transaction-scoped advisory lock on
// the tap id, so a concurrent duplicate of the same tap id waits and then
// answers the stored result; the tap row, keyed by (tenant, tap id), is
// written at the end with the result. Taps of the same pupil are
// serialised by a second advisory lock on the pupil, taken before anything
// the decision depends on is read (wallet, duplicate window, bookings,
// daycare session), which makes the duplicate window, the daycare toggle
// and the wallet floor exact under concurrency. The ledger transfer of a
// tap uses the idempotency key "tap:<tap id>".
//
// One path (unit.go): every tap is applied by applyUnit, which applies one
// tap or many in one transaction of two round trips — the locks and every
// read under them; then every ledger transfer, the booking and daycare
// rows, every tap row (one writer, tapRows) and COMMIT — the decisions in
// between queueing their writes (decide, meal, daycare). The group commit
// (group.go) is the execution strategy of the taps arriving together, from
// every request and device: they share one such transaction, at most one
// tap per badge uid, tap id and pupil. A tap that cannot be decided in its
// group (a second tap of its pupil, a badge reassigned under the lock), and
// every tap of a group whose transaction failed, is applied alone, after
// the group, by the same path (applyAlone): an attempt that had to be
// rolled back (a wallet that moved between the read and the charge,
// deadlock, serialization failure, a hold ended meanwhile, a closed period)
// is retried from the start, a few times. The taps of one batch are
// submitted in rounds across badge uids, in batch order within a uid.
//
// Amounts are rounded to cents once, half away from zero, when a charge is
// computed (see DaycareCharge).
package terminal
