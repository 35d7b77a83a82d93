#!/usr/bin/env bash
# Runs the date-sensitive tests (every package whose tests import
# tartine/internal/testclock) with the tests' clock pinned to hard dates, so
# that `make test` passes on any day of any year. See internal/testclock.
set -euo pipefail
cd "$(dirname "$0")/.."

dates=(
  2027-01-01T09:00:00+01:00   # 1 January (a holiday, a Friday), new calendar year, school year in its middle
  2026-12-12T10:00:00+01:00   # a Saturday
  2026-12-09T08:30:00+01:00   # a Wednesday (no meals by default), before the 09:00 cut-off
  2027-07-15T10:00:00+02:00   # the summer holidays
  2027-03-28T01:59:00+01:00   # a minute before the spring DST change (02:00 → 03:00)
  2027-10-31T02:30:00+02:00   # inside the autumn DST change's repeated hour (first 02:30)
  2028-02-29T10:00:00+01:00   # 29 February
  2027-08-01T00:30:00+02:00   # the first day of a school year, just after midnight
  2026-12-07T00:30:00+01:00   # a Monday just after midnight in Brussels: still Sunday in UTC
)

# The date-sensitive tests of each package that uses internal/testclock
# (the rest of those packages does not depend on the date and runs once, in
# the main `go test`). A package missing here runs whole.
declare -A only=(
  [./backoffice]='^Test(Roles|ClosedDays|Menus|TrialBalance|ClosePeriod|Bank|Fee|Kitchen|Daycare|Statement|TaxCert|Tariff|AddMealTariff|AddDaycareTariff|EndMealTariff|EndDaycareTariff|CancelBookings|CloseDays)'
  [./cmd/tartine]='^Test(SetupAndStaff|Demo)'
)

pkgs=$(grep -l '"tartine/internal/testclock"' $(git ls-files '*_test.go') | xargs -n1 dirname | sort -u | sed 's|^|./|')
if [ -z "$pkgs" ]; then
  echo "test-dates: no package uses internal/testclock" >&2
  exit 1
fi
for d in "${dates[@]}"; do
  for p in $pkgs; do
    run=${only[$p]:-.}
    echo "== TARTINE_TEST_NOW=$d $p -run '$run'"
    TARTINE_TEST_NOW="$d" go test -count=1 -timeout 10m -run "$run" "$p"
  done
done
