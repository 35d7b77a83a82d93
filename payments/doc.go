// Package payments brings money into pupils' wallets from outside: online
// top-ups by Stripe Checkout (card and Bancontact) and bank transfers read
// from CODA statements.
//
// # Stripe
//
// Stripe.StartTopUp records a pending top-up, then opens a Checkout Session in
// EUR whose metadata (on the session and on its payment intent) names the
// tenant, the pupil, the wallet and the top-up. The webhook (HandleWebhook)
// verifies the Stripe signature and the API version (2023-10-16, pinned by
// stripe-go v76), then credits the wallet exactly once per payment:
//
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
// owes it; each refund step and each dispute is booked once.
//
// # Bank transfers
//
// ImportCODA books the credit movements of a CODA file whose structured
// communication is a pupil's wallet OGM: bank → wallet; other credits go to
// suspense for manual allocation. Re-importing a file books nothing twice.
package payments
