package school

import (
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"tartine/ledger"
)

// The tap pipeline's reads of badges and pupils (issue 13, "each table has
// one owner"). A group of taps is read in one round trip of statements
// queued together on one pgx.Batch (terminal/unit.go): these functions
// queue school's statements on the caller's batch, or give the SQL of the
// pupils a statement of the caller works on. Every lookup is an equality
// on an index, per element of an array, through a LATERAL subquery kept
// apart from the join (OFFSET 0): the plans hardly depend on the arrays.

// TapPupil is a badge and its pupil as a tap reads them.
type TapPupil struct {
	BadgeID      int64 // 0 for a pupil read by id
	BadgeStatus  string
	PupilID      int64 // 0: badge not assigned
	SchoolID     int64
	FirstName    string
	LastName     string
	Class        string // the class's code
	Level        string
	Diet         []string
	Allergens    []string
	AllergyNotes string
	HasPhoto     bool // a photo, with consent to show it
	FreeMeals    bool
	Active       bool
	Wallet       int64
	Receivable   int64
	Available    decimal.Decimal // wallet balance − pending, as read
	Floor        decimal.Decimal // wallet floor (0 or −grace)
}

// TapSubject is a row of QueueTapSubjects.
type TapSubject struct {
	UID, Printed string // the badge's uid and printed number ("" when ByID)
	ByID         bool   // a pupil named by id (a manual entry), no badge
	Pupil        TapPupil
}

var tapPupilCols, tapPupilJoins = func() (string, string) {
	wallet, walletJoin := ledger.AvailableSQL("a", "p.tenant_id", "p.wallet_account_id")
	return `p.id, p.school_id, p.first_name, p.last_name, coalesce(c.code, ''), p.level, p.diet, p.allergens, p.allergy_notes,
	(p.photo IS NOT NULL AND p.photo_consent), p.free_meals, p.active, coalesce(p.wallet_account_id, 0), coalesce(p.receivable_account_id, 0),
	` + wallet, `LEFT JOIN classes c ON c.tenant_id = p.tenant_id AND c.id = p.class_id
	` + walletJoin
}()

// The statements of QueueTapSubjects: $1 the tenant, $2 the array.
var (
	tapBadgeSQL = `SELECT b.uid, b.printed_number, b.id, b.status, ` + tapPupilCols + `
	FROM unnest($2::text[]) AS x(uid) CROSS JOIN LATERAL (SELECT * FROM badges WHERE tenant_id = $1`
	tapBadgeJoin = ` OFFSET 0) b LEFT JOIN pupils p ON p.tenant_id = b.tenant_id AND p.id = b.pupil_id ` + tapPupilJoins

	tapByUIDSQL     = tapBadgeSQL + ` AND uid = x.uid` + tapBadgeJoin
	tapByPrintedSQL = tapBadgeSQL + ` AND printed_number <> '' AND printed_number = x.uid` + tapBadgeJoin
	tapByIDSQL      = `SELECT ` + tapPupilCols + ` FROM unnest($2::bigint[]) AS x(id)
	CROSS JOIN LATERAL (SELECT * FROM pupils WHERE tenant_id = $1 AND id = x.id OFFSET 0) p ` + tapPupilJoins
)

// QueueTapSubjects queues on b the reads of the tenant's badges with these
// uids, of its badges with these printed numbers (the 10 digits printed on
// a fob), each with its pupil (none when unassigned), and of its pupils with
// these ids (manual entries); each row is given to found as the batch runs.
// A pupil comes with its class's code and its wallet's available balance
// and floor. An empty list queues nothing.
func QueueTapSubjects(b *pgx.Batch, tenantID int64, uids, printed []string, pupils []int64, found func(TapSubject)) {
	badges := func(rows pgx.Rows) error {
		for rows.Next() {
			var s TapSubject
			if err := scanTapPupil(rows, &s.Pupil, &s.UID, &s.Printed, &s.Pupil.BadgeID, &s.Pupil.BadgeStatus); err != nil {
				return fmt.Errorf("school: tap badges and pupils: %w", err)
			}
			found(s)
		}
		return rows.Err()
	}
	if len(uids) > 0 {
		b.Queue(tapByUIDSQL, tenantID, uids).Query(badges)
	}
	if len(printed) > 0 {
		b.Queue(tapByPrintedSQL, tenantID, printed).Query(badges)
	}
	if len(pupils) > 0 {
		b.Queue(tapByIDSQL, tenantID, pupils).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				s := TapSubject{ByID: true}
				if err := scanTapPupil(rows, &s.Pupil); err != nil {
					return fmt.Errorf("school: tap pupils: %w", err)
				}
				found(s)
			}
			return rows.Err()
		})
	}
}

// scanTapPupil scans tapPupilCols into p, after the lead destinations (the
// badge's columns). A badge without a pupil leaves p's pupil fields zero.
func scanTapPupil(row pgx.Row, p *TapPupil, lead ...any) error {
	var pid, sid *int64
	var first, last, class, level, notes *string
	var hasPhoto, free, active *bool
	var wallet, recv *int64
	var avail, floor *decimal.Decimal
	dest := append(lead, &pid, &sid, &first, &last, &class, &level, &p.Diet, &p.Allergens, &notes, &hasPhoto, &free, &active, &wallet, &recv, &avail, &floor)
	if err := row.Scan(dest...); err != nil {
		return err
	}
	if pid == nil {
		return nil
	}
	p.PupilID, p.SchoolID = *pid, *sid
	p.FirstName, p.LastName, p.Class, p.Level, p.AllergyNotes = *first, *last, *class, *level, *notes
	p.HasPhoto, p.FreeMeals, p.Active = *hasPhoto, *free, *active
	p.Wallet, p.Receivable, p.Available, p.Floor = *wallet, *recv, *avail, *floor
	return nil
}

// TapPupilIDsSQL is an SQL query of one column, pupil_id: the pupils of
// tenant's badges whose uids are in the text array uids, of its badges
// whose printed numbers are in the text array printed, and its pupils
// whose ids are in the bigint array ids, each once; tenant, uids, printed
// and ids are SQL expressions of the caller's statement (parameters). It is
// for a statement of the caller that works on these pupils in the same
// round trip as QueueTapSubjects (the tap pipeline locks them).
func TapPupilIDsSQL(tenant, uids, printed, ids string) string {
	return `SELECT b.pupil_id FROM unnest(` + uids + `) AS x(uid)
			CROSS JOIN LATERAL (SELECT pupil_id FROM badges WHERE tenant_id = ` + tenant + ` AND uid = x.uid AND pupil_id IS NOT NULL OFFSET 0) b
			UNION
			SELECT b.pupil_id FROM unnest(` + printed + `) AS x(n)
			CROSS JOIN LATERAL (SELECT pupil_id FROM badges WHERE tenant_id = ` + tenant + ` AND printed_number <> '' AND printed_number = x.n AND pupil_id IS NOT NULL OFFSET 0) b
			UNION
			SELECT q.id FROM unnest(` + ids + `) AS x(id)
			CROSS JOIN LATERAL (SELECT id FROM pupils WHERE tenant_id = ` + tenant + ` AND id = x.id OFFSET 0) q`
}
