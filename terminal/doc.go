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
// row, the ledger transfer (in a group ledger.QueueTransfers, a booked
// meal's hold posted with it; alone ledger.TransferTx, or booking.ConsumeTx
// for a booked meal) and the daycare session commit together or not at
// all. The transaction takes a transaction-scoped advisory lock on the tap id, so a
// concurrent duplicate of the same tap id waits and then answers the stored
// result; the tap row, keyed by (tenant, tap id), is written at the end
// with the result. Taps of the same pupil are serialised by a second
// advisory lock on the pupil, taken before anything the decision depends
// on is read (wallet, duplicate window, bookings, daycare session), which
// makes the duplicate window, the daycare toggle and the wallet floor exact
// under concurrency. The ledger transfer of a tap uses the idempotency key
// "tap:<tap id>".
//
// Group commit (group.go): taps arriving together, from every request and
// device, are applied in one transaction, each tap's decision taken as
// above: two round trips for the whole group (the tap ids' and pupils'
// locks and the reads under them; every ledger transfer through
// ledger.QueueTransfers, booked meals' bookings, every tap row, and
// COMMIT). A group holds at most one tap per badge uid, tap id and pupil.
// A tap that needs more round trips (a daycare session left open on an
// earlier day, a manual entry), and every tap of a group whose
// transaction failed, is applied alone, after the group, in a transaction
// of its own: BEGIN, both locks, the stored result, the badge lookup and
// the reads under the pupil lock in one pipelined batch, the ledger
// transfer in one more, the tap row with COMMIT. An attempt that had to be
// rolled back (a wallet that moved between the read and the charge,
// deadlock, serialization failure, a hold ended meanwhile, a closed period)
// is retried from the start, a few times. The taps of one batch are
// submitted concurrently across badge uids, in batch order within a uid.
//
// Amounts are rounded to cents once, half away from zero, when a charge is
// computed (see DaycareCharge).
package terminal
