// Package payments brings money into pupils' wallets from outside: online
// top-ups by Stripe Checkout (card and Bancontact) and bank transfers read
// from CODA statements.
//
// # Stripe
//
// Stripe.StartTopUp records a pending top-up, then opens a Checkout Session in
// EUR whose metadata (on the session and on its payment intent) names the
// tenant, the pupil, the wallet and the top-up. The webhook (HandleWebhook)
// verifies the Stripe signature (dated within the tolerance before and
// MaxClockSkew after the service's clock) and the API version (2023-10-16,
// pinned by stripe-go v76), then credits the wallet exactly once per
// payment:
//
//   - the event's amount is never trusted: the Checkout Session and its
//     payment intent are read back from Stripe, and the top-up is credited
//     only when Stripe confirms it paid, in EUR, for the amount asked; any
//     difference credits nothing and is listed in stripe_reviews for the
//     accountant (Bank.StripeReviews), answered 200 (OutcomeReview) so that
//     Stripe does not retry an event that would fail the same way forever;
//   - the credit is a ledger transfer stripe-clearing → wallet whose
//     idempotency key is "stripe-topup:<top-up id>", so re-delivered events,
//     checkout.session.completed arriving after
//     checkout.session.async_payment_succeeded, and concurrent deliveries all
//     land on the same transfer;
//   - events handled to the end are recorded in stripe_events and a
//     re-delivery is acknowledged without looking further.
//
// The Stripe fee is read from the charge's balance transaction and booked
// expense:stripe-fees / stripe-clearing ("stripe-fee:<charge id>"). Refunds
// (charge.refunded) and disputes (charge.dispute.created) debit the wallet
// down to its floor and put the rest on the pupil's receivable, so the family
// owes it; each refund step and each dispute is booked once, and all of them
// together never take back more than was paid (the excess is listed for
// review). A won dispute (charge.dispute.funds_reinstated, or
// charge.dispute.closed with status won) gives back what the dispute took,
// receivable first, then wallet, once per reinstating balance transaction
// ("stripe-dispute-won:<balance transaction id>", kind topup-dispute-won).
// A refund or dispute that arrives before the credit of its payment
// (or for a payment not known yet) is stored in stripe_deferred_events
// (OutcomeDeferred) and applied once when the credit is booked: the event
// checks for the credit and the credit looks for kept events under the same
// advisory lock of the payment intent, so neither misses the other.
//
// # Stripe payouts
//
// Money collected by Stripe sits on stripe-clearing until Stripe pays it out
// to the bank. The webhook records payout.paid, payout.failed and
// payout.canceled in stripe_payouts (payout id, amount in EUR, arrival date,
// statement descriptor, status): once per payout, a re-delivered or repeated
// event changes nothing, the status follows the most recent event, and an
// event that disagrees with the recorded amount or arrival date is rejected
// and logged. A payout event books nothing in the ledger: the money is booked
// when the bank statement shows it.
//
// Tenant. The deployment has one Stripe account, and a payout carries no
// top-up metadata, so its tenant is taken, in this order, from the payout's
// own metadata tenant_id (when set in the dashboard or API and naming an
// existing tenant), from its balance transactions (listed with
// BalanceTransactionListParams{Payout}; their charges are the top-ups'
// stripe_charge, as refunds and disputes are resolved), or else left unknown
// until a tenant's bank statement shows the payout and claims it. A payout
// whose top-ups belong to several tenants, or whose metadata contradicts its
// top-ups, is never matched automatically (one bank line cannot be split).
// The same listing sums the payout's EUR balance transactions and logs a
// difference from the payout amount; when Stripe cannot be reached the
// payout is recorded without that check (the webhook does not fail).
//
// # Bank transfers
//
// ImportCODA books the credit movements of a CODA file whose structured
// communication is a pupil's wallet OGM: bank → wallet. A credit that is a
// recorded Stripe payout — same amount as a paid payout not yet reconciled
// (of this tenant or of none), value date (else entry date) within
// PayoutDateWindow days of its arrival date, and a communication or
// counterparty naming Stripe, the payout id or its statement descriptor —
// is booked bank ← stripe-clearing under the key stripe-payout:<payout id>;
// the payout is claimed for that bank line first, so two lines never take
// the same payout, and CODAReport.Payouts lists it. When several payouts
// fit, the one whose id the line names wins, else the nearest arrival date.
// Other credits go to suspense for manual allocation. Re-importing a file
// books nothing twice. A file is imported all or nothing, in one
// transaction (imports of a tenant run one at a time). UnreconciledPayouts lists the paid payouts no bank
// line has matched yet, for the accountant's check; AllocatePayout
// reconciles by hand a payout line that went to suspense (imported before
// the webhook, or naming neither Stripe nor the payout): suspense ←
// stripe-clearing under the same key.
package payments
