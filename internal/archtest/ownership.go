// Package archtest holds the project's architecture rules as data and the
// tests that check them over the source tree: which package owns which
// table (Owners). Other packages call the owner's functions instead of
// naming its tables in their SQL (docs/ARCHITECTURE.md).
package archtest

// Owners maps each table to the package (its folder, relative to the
// module root) that owns it: the only package whose SQL may name it. The
// migrations that create a table are the owner's, whatever their file.
var Owners = map[string]string{
	// ledger: the books' core (00001, 00081).
	"tenants": "ledger", "accounts": "ledger", "period_closes": "ledger", "transfers": "ledger",
	"postings": "ledger", "holds": "ledger", "hold_endings": "ledger",
	"year_closes": "ledger", "year_opening_balances": "ledger",

	// school: organisation, pupils, guardians, badges, devices, staff (00010).
	"schools": "school", "classes": "school", "pupils": "school", "guardians": "school",
	"guardian_pupils": "school", "badges": "school", "badge_assignments": "school",
	"stations": "school", "devices": "school", "staff_users": "school", "audit_log": "school",
	"retention_settings": "school", // 00096
	"ogm_counters":       "school", // OGM prefix and wallet sequence, off the tenants row (00095)

	// booking: tariffs, calendar, menus, bookings (00015).
	"meal_types": "booking", "meal_tariffs": "booking", "daycare_tariffs": "booking",
	"school_years": "booking", "school_closures": "booking", "menu_items": "booking", "bookings": "booking",
	"pupil_absences": "booking", // sick days (00098)

	// terminal: taps and what they record (00020).
	"taps": "terminal", "daycare_sessions": "terminal",
	// kiosk: the cash desk's receipts and drawer closings (00020).
	"kiosk_receipts": "kiosk", "drawer_closings": "kiosk",

	// internal/websession: sessions and login throttling (00030).
	"web_sessions": "internal/websession", "login_failures": "internal/websession",

	// portal: parents' accounts (00031).
	"portal_accounts": "portal", "portal_account_guardians": "portal", "portal_invitations": "portal",
	"portal_password_resets": "portal", "portal_low_balance_alerts": "portal",

	// payments: Stripe, bank, cash remittances (00040–00045).
	"topups": "payments", "stripe_events": "payments", "topup_adjustments": "payments",
	"bank_movements": "payments", "stripe_payouts": "payments", "cash_remittances": "payments",
	"stripe_reviews": "payments", "stripe_deferred_events": "payments",

	// fees: school fees and their rules (00050).
	"fee_rule_sets": "fees", "fees": "fees", "fee_lines": "fees", "fee_opt_ins": "fees",

	// statements: periodic statements and estimates (00060).
	"statement_periods": "statements", "statement_settings": "statements", "statement_splits": "statements",
	"statement_split_lines": "statements", "statement_runs": "statements", "statements": "statements",
	"statement_payers": "statements", "statement_fee_lines": "statements", "statement_sends": "statements",
	"estimates": "statements", "estimate_sends": "statements", "estimate_overrides": "statements",

	// books: the accountant's mapping to the Belgian chart (00080).
	"books_pcmn_rules": "books",

	// taxcert: childcare tax certificates 281.86 (00083).
	"taxcert_niss": "taxcert", "taxcert_payer_shares": "taxcert", "taxcert_certificates": "taxcert",

	// internal/jobs: river's queue (river's own migrations).
	"river_job": "internal/jobs",
}
