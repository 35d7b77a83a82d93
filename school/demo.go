package school

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"tartine/ledger"
)

// Demo-only device credentials: the demo bridge (tartine-bridge simulate's
// default device id) signs with them. Never use a fixed secret elsewhere.
const (
	DemoDeviceID     = "bridge-demo"
	DemoDeviceSecret = "demo-only-not-a-secret-7a1c4e9b2f6d8a03c5e7b9d1f3a5c7e9"
)

// DemoInfo is what the demo prints and what other seeds build on.
type DemoInfo struct {
	TenantID int64
	SchoolID int64
	// Logins are "login / password (roles)" lines for people.
	Logins []string
	// Pupils maps demo pupils' first names to their ids ("Emma", "Lucas"…).
	Pupils map[string]int64
	// Badges maps first names to badge uids (the QR pupil's token included).
	Badges       map[string]string
	DeviceID     string
	DeviceSecret string
}

type demoPupil struct {
	ref, first, last, class string
	birth                   string
	allergens               []Allergen
	diet                    []Diet
	free                    bool
	badge                   string // EM4100 uid; "qr" for a QR badge
	balance                 string // wallet top-up
	guardians               []string
}

type demoGuardian struct {
	ref, first, last, email, phone, lang, relation string
}

var demoGuardians = map[string]demoGuardian{
	"sophie": {"R-001", "Sophie", "Dubois", "sophie.dubois@example.be", "0470 12 34 56", "fr", "mère"},
	"marc":   {"R-002", "Marc", "Janssens", "marc.janssens@example.be", "0471 22 33 44", "nl", "père"},
	"an":     {"R-003", "An", "Peeters", "an.peeters@example.be", "0472 55 66 77", "nl", "mère"},
	"karim":  {"R-004", "Karim", "El Amrani", "karim.elamrani@example.be", "0473 11 22 33", "fr", "père"},
	"julie":  {"R-005", "Julie", "Lambert", "julie.lambert@example.be", "0474 44 55 66", "fr", "mère"},
	"tom":    {"R-006", "Tom", "Martin", "tom.martin@example.com", "0475 77 88 99", "en", "père"},
	"claire": {"R-007", "Claire", "Maes", "claire.maes@example.be", "0476 12 21 12", "fr", "mère"},
	"david":  {"R-008", "David", "Willems", "david.willems@example.be", "0477 34 43 34", "fr", "père"},
}

var demoPupils = []demoPupil{
	{"D-001", "Emma", "Dubois", "P3A", "2017-03-14", []Allergen{Peanuts}, nil, false, "0100CDA4EC", "4.20", []string{"sophie"}},
	{"D-002", "Lucas", "Dubois", "P1A", "2019-09-02", nil, nil, false, "0100CDA4ED", "25.00", []string{"sophie"}},
	{"D-003", "Noah", "Janssens", "P5B", "2015-01-05", []Allergen{Gluten}, nil, true, "0100CDA4EE", "12.00", []string{"marc", "an"}},
	{"D-004", "Louise", "Janssens", "P3A", "2017-06-21", []Allergen{Milk}, nil, false, "0100CDA4EF", "18.50", []string{"marc", "an"}},
	{"D-005", "Arthur", "Lambert", "P5B", "2015-11-30", nil, nil, false, "0100CDA4F0", "1.10", []string{"julie"}},
	{"D-006", "Olivia", "Martin", "M2", "2021-04-17", nil, nil, false, "0100CDA4F1", "", []string{"tom"}},
	{"D-007", "Jules", "Claes", "M2", "2021-08-09", nil, nil, false, "0100CDA4F2", "30.00", nil},
	{"D-008", "Lina", "El Amrani", "P1A", "2019-02-26", nil, []Diet{NoPork}, false, "0100CDA4F3", "15.00", []string{"karim"}},
	{"D-009", "Victor", "Maes", "P3A", "2017-10-03", nil, []Diet{Vegetarian}, false, "0100CDA4F4", "9.60", []string{"claire"}},
	{"D-010", "Chloé", "Willems", "P5B", "2015-05-12", nil, nil, false, "qr", "22.00", []string{"david"}},
	{"D-011", "Adam", "Vermeulen", "P1A", "2019-12-01", []Allergen{Eggs, Nuts}, nil, false, "0100CDA4F5", "7.50", nil},
	{"D-012", "Mila", "Leclercq", "M2", "2021-02-14", nil, nil, false, "0100CDA4F6", "11.00", nil},
}

var demoStaff = []struct {
	login, name, password string
	roles                 []Role
}{
	{"admin", "Administratrice démo", "demo-admin", []Role{RoleAdmin}},
	{"canteen", "Cantine démo", "demo-canteen", []Role{RoleCanteen}},
	{"daycare", "Garderie démo", "demo-daycare", []Role{RoleDaycare}},
	{"kiosk", "Caisse démo", "demo-kiosk", []Role{RoleKiosk}},
	{"accountant", "Comptable démo", "demo-accountant", []Role{RoleAccountant}},
}

// printedNumber is the 10-digit number printed on an EM4100 fob: the
// decimal of its last four bytes.
func printedNumber(uid string) string {
	b, err := hex.DecodeString(uid)
	if err != nil || len(b) != 5 {
		return ""
	}
	return fmt.Sprintf("%010d", binary.BigEndian.Uint32(b[1:]))
}

// SeedDemo creates, idempotently (safe on every `tartine demo` start), the
// demo organising body "demo" with the school "École communale des
// Tilleuls": classes M2, P1A, P3A, P5B, twelve pupils with allergies, a
// free-meal pupil, siblings (Emma and Lucas D., one guardian) and separated
// parents (Noah and Louise J.), EM4100 badges 0100CDA4EC… and one QR badge,
// the stations canteen-1, daycare-1, kiosk-1 and enrolment-1, the demo
// device DemoDeviceID with the fixed DemoDeviceSecret, staff users with demo
// passwords, and wallet top-ups with stable idempotency keys.
func SeedDemo(ctx context.Context, s *Store) (DemoInfo, error) {
	const actor = "system:demo"
	info := DemoInfo{Pupils: map[string]int64{}, Badges: map[string]string{}, DeviceID: DemoDeviceID, DeviceSecret: DemoDeviceSecret}
	ten, err := s.EnsureTenant(ctx, "demo", "PO de démonstration")
	if err != nil {
		return info, err
	}
	t := ten.ID
	info.TenantID = t
	sc, err := s.EnsureSchool(ctx, t, SchoolInput{Code: "tilleuls", Name: "École communale des Tilleuls",
		Address: "Rue des Tilleuls 12, 1080 Molenbeek-Saint-Jean", IBAN: "BE68539007547034", BIC: "GKCCBEBB",
		Beneficiary: "École communale des Tilleuls"})
	if err != nil {
		return info, err
	}
	info.SchoolID = sc.ID
	classes := map[string]int64{}
	for _, c := range [][2]string{{"M2", "M2"}, {"P1A", "P1"}, {"P3A", "P3"}, {"P5B", "P5"}} {
		cl, err := s.EnsureClass(ctx, t, sc.ID, c[0], c[1])
		if err != nil {
			return info, err
		}
		classes[c[0]] = cl.ID
	}
	guardianIDs := map[string]int64{}
	for key, g := range demoGuardians {
		gu, err := s.GuardianByExternalRef(ctx, t, g.ref)
		if errors.Is(err, ErrNotFound) {
			gu, err = s.CreateGuardian(ctx, t, GuardianInput{ExternalRef: g.ref, FirstName: g.first, LastName: g.last, Email: g.email,
				Phone: g.phone, Language: g.lang}, actor)
		}
		if err != nil {
			return info, fmt.Errorf("demo guardian %s: %w", g.first, err)
		}
		guardianIDs[key] = gu.ID
	}
	bank, err := s.ledger.AccountByCode(ctx, t, AccountBank)
	if err != nil {
		return info, err
	}
	for _, dp := range demoPupils {
		p, err := s.PupilByExternalRef(ctx, t, dp.ref)
		if errors.Is(err, ErrNotFound) {
			birth, _ := time.Parse("2006-01-02", dp.birth)
			p, err = s.CreatePupil(ctx, t, PupilInput{SchoolID: sc.ID, ClassID: classes[dp.class], ExternalRef: dp.ref, FirstName: dp.first,
				LastName: dp.last, BirthDate: birth, Allergens: dp.allergens, Diet: dp.diet, FreeMeals: dp.free}, actor)
		}
		if err != nil {
			return info, fmt.Errorf("demo pupil %s: %w", dp.first, err)
		}
		info.Pupils[dp.first] = p.ID
		for _, g := range dp.guardians {
			if err := linkIfMissing(ctx, s, t, guardianIDs[g], p.ID, demoGuardians[g].relation, actor); err != nil {
				return info, err
			}
		}
		uid, err := demoBadge(ctx, s, t, p.ID, dp.badge, actor)
		if err != nil {
			return info, fmt.Errorf("demo badge of %s: %w", dp.first, err)
		}
		info.Badges[dp.first] = uid
		if dp.balance != "" {
			amt := decimal.RequireFromString(dp.balance)
			if _, err := s.ledger.Transfer(ctx, ledger.TransferRequest{TenantID: t, IdempotencyKey: "demo:topup:" + dp.ref, Kind: "topup",
				Actor: actor, Memo: "Versement de démonstration", Metadata: map[string]string{"pupil": fmt.Sprint(p.ID)},
				OccurredAt: time.Date(2025, 8, 25, 10, 0, 0, 0, sc.Location()),
				Postings:   []ledger.Posting{{AccountID: bank.ID, Amount: amt}, {AccountID: p.WalletAccountID, Amount: amt.Neg()}}}); err != nil {
				return info, fmt.Errorf("demo top-up of %s: %w", dp.first, err)
			}
		}
	}
	for _, st := range []StationInput{
		{SchoolID: sc.ID, Code: "canteen-1", Name: "Cantine, ligne 1", Kind: Canteen},
		{SchoolID: sc.ID, Code: "daycare-1", Name: "Garderie, porte", Kind: Daycare},
		{SchoolID: sc.ID, Code: "kiosk-1", Name: "Caisse de l'accueil", Kind: Kiosk},
		{SchoolID: sc.ID, Code: "enrolment-1", Name: "Secrétariat, badges", Kind: EnrolmentDesk},
	} {
		if _, err := s.EnsureStation(ctx, t, st, actor); err != nil {
			return info, err
		}
	}
	if err := s.EnrolDeviceWithSecret(ctx, t, DemoDeviceID, "Pont de démonstration", DemoDeviceSecret, actor); err != nil {
		return info, err
	}
	for _, u := range demoStaff {
		if _, err := s.StaffByLogin(ctx, u.login); errors.Is(err, ErrNotFound) {
			if _, err := s.CreateStaff(ctx, t, StaffInput{Login: u.login, Name: u.name, Password: u.password, Roles: u.roles}, actor); err != nil {
				return info, fmt.Errorf("demo staff %s: %w", u.login, err)
			}
		} else if err != nil {
			return info, err
		}
		info.Logins = append(info.Logins, fmt.Sprintf("%-10s / %-15s (%s)", u.login, u.password, u.roles[0]))
	}
	return info, nil
}

func linkIfMissing(ctx context.Context, s *Store, t, guardianID, pupilID int64, relation, actor string) error {
	ok, err := s.GuardianLinked(ctx, t, guardianID, pupilID)
	if err != nil || ok {
		return err
	}
	return s.LinkGuardian(ctx, t, guardianID, pupilID, relation, actor)
}

// demoBadge gives the pupil its demo badge unless it has one; it returns
// the badge uid.
func demoBadge(ctx context.Context, s *Store, t, pupilID int64, uid, actor string) (string, error) {
	if uid == "qr" {
		bs, err := s.BadgesOfPupil(ctx, t, pupilID)
		if err != nil {
			return "", err
		}
		for _, b := range bs {
			if b.Tech == TechQR {
				return b.UID, nil
			}
		}
		b, err := s.NewQRBadge(ctx, t, pupilID, actor)
		return b.UID, err
	}
	if _, err := s.BadgeByUID(ctx, t, uid); err == nil {
		return uid, nil
	} else if !errors.Is(err, ErrNotFound) {
		return "", err
	}
	_, err := s.CreateBadge(ctx, t, BadgeInput{UID: uid, Tech: TechEM4100, PrintedNumber: printedNumber(uid), PupilID: pupilID}, actor)
	return uid, err
}
