package booking

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"tartine/ledger"
)

// WalletBalance is a pupil's prepaid wallet in the two figures families and
// staff are shown, with the same words everywhere (the portal's pages, the
// emails, the kiosk): catalogue keys "wallet.balance" and
// "wallet.available". Read it with Manager.Wallet or Manager.Wallets; never
// pick a field of ledger.Balance for people directly.
type WalletBalance struct {
	// Balance (« solde ») is what was paid in minus what was charged
	// (meals served, no-shows, daycare, transfers out): the wallet's posted
	// ledger balance. It may be below zero, down to the grace limit.
	Balance decimal.Decimal
	// Booked is what meals booked and not yet served or charged hold on the
	// wallet (its pending holds: only meal bookings place holds on a
	// wallet; daycare is charged at check-out).
	Booked decimal.Decimal
	// Available (« disponible après les repas réservés ») is Balance −
	// Booked: what is left for new bookings and unbooked meals. Low-balance
	// alerts compare it with the family's threshold.
	Available decimal.Decimal
}

// WalletOf is the wallet balance of a ledger balance of a wallet account.
func WalletOf(b ledger.Balance) WalletBalance {
	return WalletBalance{Balance: b.Posted, Booked: b.Pending, Available: b.Posted.Sub(b.Pending)}
}

// zeroWallet is the balance of a pupil without a wallet.
var zeroWallet = WalletBalance{Balance: decimal.Zero, Booked: decimal.Zero, Available: decimal.Zero}

// Wallet returns the balance of the wallet account walletID of tenantID (a
// pupil's wallet_account_id; 0, no wallet yet, is a zero balance). It
// returns the ledger's errors (an unknown account).
func (m *Manager) Wallet(ctx context.Context, tenantID, walletID int64) (WalletBalance, error) {
	if walletID == 0 {
		return zeroWallet, nil
	}
	b, err := m.led.Balance(ctx, tenantID, walletID)
	if err != nil {
		return WalletBalance{}, fmt.Errorf("wallet %d: %w", walletID, err)
	}
	return WalletOf(b), nil
}

// WalletTx is Wallet read in the caller's transaction tx (it sees what tx
// wrote: a booking's hold placed in it). A database error requires rolling
// tx back.
func (m *Manager) WalletTx(ctx context.Context, tx pgx.Tx, tenantID, walletID int64) (WalletBalance, error) {
	if walletID == 0 {
		return zeroWallet, nil
	}
	b, err := m.led.BalanceTx(ctx, tx, tenantID, walletID)
	if err != nil {
		return WalletBalance{}, fmt.Errorf("wallet %d: %w", walletID, err)
	}
	return WalletOf(b), nil
}

// Wallets returns the balances of several wallets (of any tenants) at once:
// one query for a family's children. Refs with ID 0 are zero balances.
func (m *Manager) Wallets(ctx context.Context, refs []ledger.AccountRef) (map[ledger.AccountRef]WalletBalance, error) {
	out := make(map[ledger.AccountRef]WalletBalance, len(refs))
	var tracked []ledger.AccountRef
	for _, r := range refs {
		if r.ID == 0 {
			out[r] = zeroWallet
		} else {
			tracked = append(tracked, r)
		}
	}
	bals, err := m.led.TrackedBalances(ctx, tracked)
	if err != nil {
		return nil, err
	}
	for _, r := range tracked {
		b, ok := bals[r]
		if !ok {
			// Not a tracked account: read it alone.
			w, err := m.Wallet(ctx, r.TenantID, r.ID)
			if err != nil {
				return nil, err
			}
			out[r] = w
			continue
		}
		out[r] = WalletOf(b)
	}
	return out, nil
}
