// Package schedule keeps cron schedules: parsing Quartz and 5-field cron
// expressions and computing fire times in a time zone. The web server's
// scheduler calls it.
//
// # Expressions
//
// ParseCron reads two dialects, told apart by the number of fields:
//
//   - 6 or 7 fields: Quartz, as org.quartz.CronExpression reads it:
//     second minute hour day-of-month month day-of-week [year].
//     Day-of-week runs 1-7 with 1 = Sunday (SUN-SAT also accepted), years run
//     1970-2099, and exactly one of day-of-month and day-of-week must be '?'.
//     Besides * , - / the day fields take Quartz's specials: in day-of-month
//     L (last day), L-n (the last day minus n days, so L-2 in January is the
//     29th), nW (the Monday-Friday nearest day n, never leaving the month; no
//     fire in a month without a day n), LW and L-nW; in day-of-week L alone
//     (7 = Saturday, every week), xL (the last x of the month) and x#n (the
//     n-th x of the month, n 1-5; a month without one has no fire). A special
//     must be the whole field. As in Quartz a range may wrap around ("22-2",
//     "FRI-MON"), "5/15" means 5 to the end of the range every 15, and "/5"
//     means "*/5".
//   - 5 fields: Unix cron: minute hour day-of-month month day-of-week, firing
//     at second 0. Day-of-week runs 0-7 with both 0 and 7 = Sunday. Lists,
//     ranges, steps and names work as above, but ranges do not wrap around,
//     a step needs its start ("*/5", not "/5") and L, W and # are refused. When both day fields are restricted the
//     classic Vixie rule applies: a day fires when either field matches. As
//     in Vixie cron, a field counts as unrestricted when its text starts with
//     '*', so "*/2" in day-of-month still combines with day-of-week by "and".
//     '?' is read as '*'. The macros @yearly, @annually, @monthly, @weekly,
//     @daily, @midnight and @hourly are accepted.
//
// Field values, names and the L, W specials are case-insensitive. Errors are
// *CronError values that name the offending field.
//
// # Time zones and daylight saving time
//
// Fire times are computed on the wall clock of the location passed to Next.
// When the clocks change:
//
//   - Spring forward: wall times in the gap (02:00-02:59 when clocks jump
//     from 02:00 to 03:00) do not exist. Every fire time in the gap collapses
//     into one fire at the first instant after the gap (03:00 local). A daily
//     02:30 schedule fires once, at 03:00, that day; an every-5-minutes
//     schedule fires once at 03:00 rather than once per missing slot.
//   - Fall back: wall times in the repeated hour (01:00-01:59 when clocks go
//     back from 02:00 to 01:00) fire once, at their first occurrence (the
//     earlier, daylight-saving offset). An every-15-minutes schedule fires at
//     01:00, 01:15, 01:30 and 01:45 on the first pass, nothing on the second
//     pass, then at 02:00.
//
// Successive fire times are therefore strictly increasing instants with no
// duplicates. The search for the next fire time stops after the year 2099;
// Next then returns the zero Time. This also covers expressions that can never
// fire, such as the 30th of February.
//
// Quartz itself leaves these cases to java.util.Calendar's lenient arithmetic;
// the rules above are this package's own and hold for every location.
package schedule

import (
	"fmt"
	"math/bits"
	"strings"
	"time"
)

// Cron is a parsed cron expression. It is immutable and safe for concurrent
// use.
type Cron struct {
	expr   string
	quartz bool

	second, minute, hour uint64   // bit v: value v
	dayOfMonth           uint64   // bits 1-31
	month                uint64   // bits 1-12
	dayOfWeek            uint64   // bits 0-6, Sunday = 0
	years                valueSet // bit i: year minYear+i
	anyYear              bool

	// Quartz: the day field that is '?' plays no part.
	noDayOfMonth, noDayOfWeek bool
	// 5-field cron: the day field starts with '*' (Vixie rule).
	starDayOfMonth, starDayOfWeek bool

	lastDay     bool // L, L-n, LW, L-nW
	lastOffset  int
	nearest     bool // W
	nearestDay  int  // n in nW; 0 when combined with L
	lastWeekday bool // xL
	nth         int  // x#n
	weekday     int  // x in xL and x#n, Sunday = 0
}

// CronError reports an expression that ParseCron refuses.
type CronError struct {
	Expr  string // the expression, whitespace normalized
	Field string // "second", "minute", "hour", "day-of-month", "month", "day-of-week", "year", or "" when no single field is at fault
	Msg   string
}

func (e *CronError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("cron %q: %s", e.Expr, e.Msg)
	}
	return fmt.Sprintf("cron %q: %s: %s", e.Expr, e.Field, e.Msg)
}

var macros = map[string]string{
	"@yearly":   "0 0 1 1 *",
	"@annually": "0 0 1 1 *",
	"@monthly":  "0 0 1 * *",
	"@weekly":   "0 0 * * 0",
	"@daily":    "0 0 * * *",
	"@midnight": "0 0 * * *",
	"@hourly":   "0 * * * *",
}

// ParseCron parses expr. 6 or 7 fields = Quartz (sec min hour day-of-month
// month day-of-week [year]); 5 fields = Unix cron (min hour dom month dow;
// seconds = 0). Errors are *CronError.
func ParseCron(expr string) (*Cron, error) {
	fields := strings.Fields(expr)
	norm := strings.Join(fields, " ")
	if len(fields) == 1 && strings.HasPrefix(fields[0], "@") {
		m, ok := macros[strings.ToLower(fields[0])]
		if !ok {
			return nil, &CronError{Expr: norm, Msg: fmt.Sprintf("unknown macro %q", fields[0])}
		}
		fields = strings.Fields(m)
	}
	var c *Cron
	var err *CronError
	switch len(fields) {
	case 5:
		c, err = parseUnix(fields)
	case 6, 7:
		c, err = parseQuartz(fields)
	default:
		err = &CronError{Msg: fmt.Sprintf("expected 5, 6 or 7 fields, got %d", len(fields))}
	}
	if err != nil {
		err.Expr = norm
		return nil, err
	}
	c.expr = norm
	return c, nil
}

func parseQuartz(fields []string) (*Cron, *CronError) {
	c := &Cron{quartz: true, anyYear: true}
	var pf [7]parsedField
	for i, text := range fields {
		sp := &quartzSpecs[i]
		var msg string
		if pf[i], msg = parseField(text, sp, true); msg != "" {
			return nil, &CronError{Field: sp.kind.String(), Msg: msg}
		}
	}
	dom, dow := &pf[fieldDayOfMonth], &pf[fieldDayOfWeek]
	switch {
	case !dom.noValue && !dow.noValue:
		return nil, &CronError{Field: "day-of-month and day-of-week", Msg: "one of them must be '?'"}
	case dom.noValue && dow.noValue:
		return nil, &CronError{Field: "day-of-month and day-of-week", Msg: "only one of them may be '?'"}
	}
	c.second = pf[fieldSecond].values[0]
	c.minute = pf[fieldMinute].values[0]
	c.hour = pf[fieldHour].values[0]
	c.month = pf[fieldMonth].values[0]
	c.dayOfMonth = dom.values[0]
	c.noDayOfMonth, c.noDayOfWeek = dom.noValue, dow.noValue
	c.lastDay, c.lastOffset, c.nearest, c.nearestDay = dom.lastDay, dom.lastOffset, dom.nearest, dom.nearestDay
	c.lastWeekday, c.nth, c.weekday = dow.lastWeekday, dow.nth, dow.weekday
	for v := 1; v <= 7; v++ { // Quartz 1-7 = Sunday-Saturday
		if dow.values.has(v) {
			c.dayOfWeek |= 1 << uint(v-1)
		}
	}
	if len(fields) == 7 {
		c.anyYear = false
		c.years = pf[fieldYear].values
	}
	return c, nil
}

func parseUnix(fields []string) (*Cron, *CronError) {
	c := &Cron{second: 1, anyYear: true}
	var pf [5]parsedField
	for i, text := range fields {
		sp := &unixSpecs[i]
		var msg string
		if pf[i], msg = parseField(text, sp, false); msg != "" {
			return nil, &CronError{Field: sp.kind.String(), Msg: msg}
		}
	}
	c.minute = pf[0].values[0]
	c.hour = pf[1].values[0]
	c.dayOfMonth = pf[2].values[0]
	c.month = pf[3].values[0]
	for v := 0; v <= 7; v++ { // 0 and 7 are both Sunday
		if pf[4].values.has(v) {
			c.dayOfWeek |= 1 << uint(v%7)
		}
	}
	c.starDayOfMonth, c.starDayOfWeek = pf[2].star, pf[4].star
	return c, nil
}

// String returns the expression as parsed, with whitespace normalized.
func (c *Cron) String() string { return c.expr }

// Next returns the first fire time strictly after t, evaluated in loc's wall
// clock (nil loc means UTC), as a time in loc. It returns the zero Time if
// there is none before the end of 2099 (e.g. a year field in the past, or a
// date that never exists like 30 Feb). See the package documentation for
// daylight saving time.
func (c *Cron) Next(t time.Time, loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	t = t.In(loc)
	// Every wall time up to t's own second fires at or before t (the mapping
	// from wall times to instants never decreases), so start one second on.
	w := wallOf(t)
	w.second++
	// The first lookup almost always succeeds; afterRepeat skips a repeated
	// hour in one step. The bound only guards against pathological zone data.
	for range 1 << 16 {
		m, ok := c.nextWall(w)
		if !ok {
			return time.Time{}
		}
		f := resolve(m, loc)
		if f.After(t) {
			return f
		}
		// t lies in the second pass of a repeated hour and m already fired in
		// the first pass: skip to the end of the repeated wall times.
		w = afterRepeat(t, m)
	}
	return time.Time{}
}

// NextN returns up to n successive fire times after t.
func (c *Cron) NextN(t time.Time, loc *time.Location, n int) []time.Time {
	var out []time.Time
	if n > 0 {
		out = make([]time.Time, 0, min(n, 1024))
	}
	for len(out) < n {
		t = c.Next(t, loc)
		if t.IsZero() {
			break
		}
		out = append(out, t)
	}
	return out
}

// civil is a wall-clock time. Fields may overflow by one (second 60, day 32,
// month 13); nextWall carries them.
type civil struct {
	year, month, day, hour, minute, second int
}

func wallOf(t time.Time) civil {
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	return civil{y, int(mo), d, h, mi, s}
}

func (w civil) less(v civil) bool {
	a := [6]int{w.year, w.month, w.day, w.hour, w.minute, w.second}
	b := [6]int{v.year, v.month, v.day, v.hour, v.minute, v.second}
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

// nextWall returns the first wall time at or after w that the expression
// matches, stepping field by field from the year down to the second.
func (c *Cron) nextWall(w civil) (civil, bool) {
	for w.year <= maxYear {
		y, ok := c.nextYear(w.year)
		if !ok {
			break
		}
		if y != w.year {
			w = civil{year: y, month: 1, day: 1}
		}
		mo := nextBit(c.month, w.month)
		if mo < 0 {
			w = civil{year: w.year + 1, month: 1, day: 1}
			continue
		}
		if mo != w.month {
			w = civil{year: w.year, month: mo, day: 1}
		}
		d := nextBit(c.days(w.year, time.Month(w.month)), w.day)
		if d < 0 {
			w = civil{year: w.year, month: w.month + 1, day: 1}
			continue
		}
		if d != w.day {
			w = civil{year: w.year, month: w.month, day: d}
		}
		h := nextBit(c.hour, w.hour)
		if h < 0 {
			w = civil{year: w.year, month: w.month, day: w.day + 1}
			continue
		}
		if h != w.hour {
			w.hour, w.minute, w.second = h, 0, 0
		}
		mi := nextBit(c.minute, w.minute)
		if mi < 0 {
			w.hour, w.minute, w.second = w.hour+1, 0, 0
			continue
		}
		if mi != w.minute {
			w.minute, w.second = mi, 0
		}
		s := nextBit(c.second, w.second)
		if s < 0 {
			w.minute, w.second = w.minute+1, 0
			continue
		}
		w.second = s
		return w, true
	}
	return civil{}, false
}

func (c *Cron) nextYear(y int) (int, bool) {
	if y > maxYear {
		return 0, false
	}
	if c.anyYear {
		return y, true
	}
	for y = max(y, minYear); y <= maxYear; y++ {
		if c.years.has(y - minYear) {
			return y, true
		}
	}
	return 0, false
}

// nextBit returns the lowest set bit of mask at or above from, or -1.
func nextBit(mask uint64, from int) int {
	if from >= 64 {
		return -1
	}
	m := mask & (^uint64(0) << uint(max(from, 0)))
	if m == 0 {
		return -1
	}
	return bits.TrailingZeros64(m)
}

// days returns the days of month m of year y that fire, as bits 1-31.
func (c *Cron) days(y int, m time.Month) uint64 {
	n := daysIn(y, m)
	first := int(time.Date(y, m, 1, 0, 0, 0, 0, time.UTC).Weekday())
	switch {
	case c.noDayOfWeek:
		return c.monthDays(n, first)
	case c.noDayOfMonth:
		return c.weekDays(n, first)
	case c.starDayOfMonth || c.starDayOfWeek:
		return c.monthDays(n, first) & c.weekDays(n, first)
	default:
		// Vixie: both day fields restricted, either may match.
		return c.monthDays(n, first) | c.weekDays(n, first)
	}
}

// monthDays applies the day-of-month field to a month of n days whose first
// day is weekday first (Sunday = 0).
func (c *Cron) monthDays(n, first int) uint64 {
	switch {
	case c.lastDay:
		d := n - c.lastOffset
		if d < 1 {
			return 0
		}
		if c.nearest {
			d = nearestWeekday(d, n, first)
		}
		return 1 << uint(d)
	case c.nearest:
		if c.nearestDay > n {
			return 0 // the day does not exist this month
		}
		return 1 << uint(nearestWeekday(c.nearestDay, n, first))
	default:
		return c.dayOfMonth & (1<<uint(n+1) - 2)
	}
}

// weekDays applies the day-of-week field.
func (c *Cron) weekDays(n, first int) uint64 {
	switch {
	case c.nth > 0:
		d := 1 + (c.weekday-first+7)%7 + 7*(c.nth-1)
		if d > n {
			return 0
		}
		return 1 << uint(d)
	case c.lastWeekday:
		last := (first + n - 1) % 7
		return 1 << uint(n-(last-c.weekday+7)%7)
	default:
		var mask uint64
		for d := 1; d <= n; d++ {
			if c.dayOfWeek&(1<<uint((first+d-1)%7)) != 0 {
				mask |= 1 << uint(d)
			}
		}
		return mask
	}
}

// nearestWeekday moves day d of a month of n days to the nearest Monday to
// Friday without leaving the month: Saturday goes back to Friday (forward to
// Monday the 3rd for the 1st), Sunday goes forward to Monday (back to Friday
// for the last day).
func nearestWeekday(d, n, first int) int {
	switch (first + d - 1) % 7 {
	case 6: // Saturday
		if d == 1 {
			return 3
		}
		return d - 1
	case 0: // Sunday
		if d == n {
			return d - 2
		}
		return d + 1
	}
	return d
}

func daysIn(y int, m time.Month) int {
	switch m {
	case time.February:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case time.April, time.June, time.September, time.November:
		return 30
	}
	return 31
}

// resolve maps wall time w in loc to the instant it fires at: the instant
// itself if it exists once, its first occurrence if it exists twice (fall
// back), and the first instant after the gap if it does not exist (spring
// forward).
func resolve(w civil, loc *time.Location) time.Time {
	t := time.Date(w.year, time.Month(w.month), w.day, w.hour, w.minute, w.second, 0, loc)
	got := wallOf(t)
	if got == w {
		if e, ok := earlierOccurrence(t, w); ok {
			return e
		}
		return t
	}
	// w is in a gap; time.Date put t on one side of it with the offset of the
	// other side. The gap ends where the zone of the later side begins.
	start, end := t.ZoneBounds()
	if w.less(got) {
		if !start.IsZero() {
			return start
		}
	} else if !end.IsZero() {
		return end
	}
	return t
}

// earlierOccurrence returns the first occurrence of wall time w when w occurs
// twice and t is the second one.
func earlierOccurrence(t time.Time, w civil) (time.Time, bool) {
	start, _ := t.ZoneBounds()
	if start.IsZero() {
		return time.Time{}, false
	}
	_, cur := t.Zone()
	_, prev := start.Add(-time.Second).Zone()
	if prev <= cur {
		return time.Time{}, false
	}
	e := t.Add(-time.Duration(prev-cur) * time.Second)
	if e.Before(start) && wallOf(e) == w {
		return e, true
	}
	return time.Time{}, false
}

// afterRepeat returns where to resume the wall-clock search when t lies in the
// second pass of a repeated hour and wall time m already fired in the first
// pass: the end of the repeated wall times, and at least just after m.
func afterRepeat(t time.Time, m civil) civil {
	next := m
	next.second++
	start, _ := t.ZoneBounds()
	if start.IsZero() {
		return next
	}
	_, cur := t.Zone()
	_, prev := start.Add(-time.Second).Zone()
	if prev > cur {
		if end := wallOf(start.Add(time.Duration(prev-cur) * time.Second)); next.less(end) {
			next = end
		}
	}
	return next
}
