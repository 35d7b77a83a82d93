package school

import (
	"context"
	"errors"
	"fmt"
)

// FirstRun is what a school's first run on a real database creates or
// completes (`tartine setup`): the organising body, the school, its usual
// stations and its first admin.
type FirstRun struct {
	TenantCode, TenantName string
	School                 SchoolInput // matched by Code
	AdminLogin, AdminName  string
}

// FirstRunResult says what FirstRun found and made.
type FirstRunResult struct {
	Tenant Tenant
	School School
	// StationsCreated are the codes of the usual stations created now; a
	// station of that code already there is kept as the school named it.
	StationsCreated []string
	Admin           StaffUser
	// AdminPassword is the generated password of an admin created now, to
	// be shown once; empty when the admin existed (its password unchanged).
	AdminPassword string
}

// UsualStations are the four stations a school starts with (canteen-1,
// daycare-1, kiosk-1, enrolment-1) at schoolID.
func UsualStations(schoolID int64) []StationInput {
	return []StationInput{
		{SchoolID: schoolID, Code: "canteen-1", Name: "Cantine", Kind: Canteen},
		{SchoolID: schoolID, Code: "daycare-1", Name: "Garderie", Kind: Daycare},
		{SchoolID: schoolID, Code: "kiosk-1", Name: "Caisse", Kind: Kiosk},
		{SchoolID: schoolID, Code: "enrolment-1", Name: "Secrétariat, badges", Kind: EnrolmentDesk},
	}
}

// FirstRun creates, or completes (safe to run again: what exists is kept),
// the organising body, the school, the usual stations (UsualStations) and
// the first admin with a generated password. It returns ErrInvalid for a
// bad code, name or bank account, or the first error of the store.
func (s *Store) FirstRun(ctx context.Context, in FirstRun, actor string) (FirstRunResult, error) {
	var res FirstRunResult
	var err error
	if res.Tenant, err = s.EnsureTenant(ctx, in.TenantCode, in.TenantName); err != nil {
		return res, fmt.Errorf("organising body: %w", err)
	}
	if res.School, err = s.EnsureSchool(ctx, res.Tenant.ID, in.School); err != nil {
		return res, fmt.Errorf("school: %w", err)
	}
	for _, st := range UsualStations(res.School.ID) {
		if _, err := s.StationByCode(ctx, res.Tenant.ID, st.Code); err == nil {
			continue // kept as the school named it
		} else if !errors.Is(err, ErrNotFound) {
			return res, fmt.Errorf("station %s: %w", st.Code, err)
		}
		if _, err := s.EnsureStation(ctx, res.Tenant.ID, st, actor); err != nil {
			return res, fmt.Errorf("station %s: %w", st.Code, err)
		}
		res.StationsCreated = append(res.StationsCreated, st.Code)
	}
	if res.Admin, err = s.StaffByLogin(ctx, in.AdminLogin); err == nil {
		return res, nil
	} else if !errors.Is(err, ErrNotFound) {
		return res, fmt.Errorf("admin: %w", err)
	}
	pw := NewStaffPassword()
	if res.Admin, err = s.CreateStaff(ctx, res.Tenant.ID, StaffInput{Login: in.AdminLogin, Name: in.AdminName, Password: pw, Roles: []Role{RoleAdmin}}, actor); err != nil {
		return res, fmt.Errorf("admin: %w", err)
	}
	res.AdminPassword = pw
	return res, nil
}
