package school

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// guardianChanges names the fields in that differ from old (after
// normalisation), for the audit log: which, never the values.
func guardianChanges(old Guardian, in GuardianInput) []string {
	_ = in.normalise()
	var out []string
	add := func(name string, changed bool) {
		if changed {
			out = append(out, name)
		}
	}
	add("external_ref", in.ExternalRef != "" && in.ExternalRef != old.ExternalRef)
	add("first_name", in.FirstName != old.FirstName)
	add("last_name", in.LastName != old.LastName)
	add("email", in.Email != old.Email)
	add("phone", in.Phone != old.Phone)
	add("address", strings.TrimSpace(in.Address) != strings.TrimSpace(old.Address))
	add("language", in.Language != old.Language)
	if out == nil {
		out = []string{}
	}
	return out
}

// SetGuardianStatements says whether the guardian receives the pupil's
// statements and estimates, and audits it ("guardian.statements", subject
// the pupil). It returns ErrNotFound when the guardian is not the pupil's,
// ErrInvalid when it would leave the pupil with no guardian receiving them.
func (s *Store) SetGuardianStatements(ctx context.Context, tenantID, guardianID, pupilID int64, receives bool, actor string) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT guardian_id, statements FROM guardian_pupils WHERE tenant_id = $1 AND pupil_id = $2 FOR UPDATE`, tenantID, pupilID)
		if err != nil {
			return mapErr(err, "guardians of pupil")
		}
		links := map[int64]bool{}
		var g int64
		var st bool
		if _, err := pgx.ForEachRow(rows, []any{&g, &st}, func() error { links[g] = st; return nil }); err != nil {
			return mapErr(err, "guardians of pupil")
		}
		if _, ok := links[guardianID]; !ok {
			return fmt.Errorf("link guardian %d – pupil %d: %w", guardianID, pupilID, ErrNotFound)
		}
		others := false
		for id, st := range links {
			others = others || (id != guardianID && st)
		}
		if !receives && !others {
			return invalid("au moins un responsable doit recevoir les relevés de l'élève")
		}
		if _, err := tx.Exec(ctx, `UPDATE guardian_pupils SET statements = $4 WHERE tenant_id = $1 AND guardian_id = $2 AND pupil_id = $3`,
			tenantID, guardianID, pupilID, receives); err != nil {
			return mapErr(err, "guardian statements")
		}
		return audit(ctx, tx, tenantID, actor, "guardian.statements", fmt.Sprint("pupil:", pupilID),
			map[string]any{"guardian": guardianID, "statements": receives}, s.now())
	})
}

// SetGuardianContactTx sets the guardian's phone and address in the
// caller's transaction (the portal's settings page, with its own changes)
// and audits it ("guardian.contact", detail "changed"). It returns
// ErrInvalid for a phone longer than 40 characters or an address longer
// than 300, ErrNotFound for an unknown guardian; roll tx back then.
func (s *Store) SetGuardianContactTx(ctx context.Context, tx pgx.Tx, tenantID, guardianID int64, phone, address, actor string) error {
	phone, address = strings.TrimSpace(phone), strings.TrimSpace(address)
	if len(phone) > 40 || strings.ContainsAny(phone, "<>\r\n") {
		return invalid("numéro de téléphone invalide")
	}
	if len(address) > 300 {
		return invalid("adresse trop longue")
	}
	var oldPhone, oldAddress string
	err := tx.QueryRow(ctx, `SELECT phone, address FROM guardians WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, tenantID, guardianID).Scan(&oldPhone, &oldAddress)
	if err != nil {
		return mapErr(err, fmt.Sprint("guardian ", guardianID))
	}
	if oldPhone == phone && oldAddress == address {
		return nil
	}
	if _, err := tx.Exec(ctx, `UPDATE guardians SET phone = $3, address = $4 WHERE tenant_id = $1 AND id = $2`, tenantID, guardianID, phone, address); err != nil {
		return mapErr(err, fmt.Sprint("guardian ", guardianID))
	}
	var changed []string
	if oldPhone != phone {
		changed = append(changed, "phone")
	}
	if oldAddress != address {
		changed = append(changed, "address")
	}
	return audit(ctx, tx, tenantID, actor, "guardian.contact", fmt.Sprint("guardian:", guardianID), map[string]any{"changed": changed}, s.now())
}
