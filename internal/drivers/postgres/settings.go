package postgres

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/idpbot/idpbot/internal/platform"
)

// Defaults of the postgresql-database parameters, used when neither the
// request nor the catalog entry gives one.
const (
	defaultSize          = "small"
	defaultRetentionDays = 7
)

// settings are the resource parameters the driver acts on.
type settings struct {
	size             string
	connectionLimit  int
	highAvailability bool
	backupDays       int64
}

// connectionLimit is the role's connection limit for a size.
func connectionLimit(size string) (int, bool) {
	switch size {
	case "small":
		return 20, true
	case "medium":
		return 50, true
	case "large":
		return 100, true
	}
	return 0, false
}

// settingsOf reads size, high_availability and backup_retention_days from
// the job's parameters, with the catalog's defaults filled in. Values may
// come typed (from a form) or decoded from JSON (float64, json.Number).
func settingsOf(job platform.Job) (settings, error) {
	params := job.Resource.Parameters
	if job.Service != nil {
		params = job.Service.Defaults(params)
	}
	s := settings{size: defaultSize, backupDays: defaultRetentionDays}
	if v, ok := params["size"]; ok {
		str, ok := v.(string)
		if !ok {
			return s, platform.Errorf(platform.Invalid, "size must be one of small, medium, large (got %v)", v)
		}
		s.size = str
	}
	limit, ok := connectionLimit(s.size)
	if !ok {
		return s, platform.Errorf(platform.Invalid, "size must be one of small, medium, large (got %q)", s.size)
	}
	s.connectionLimit = limit
	if v, ok := params["high_availability"]; ok {
		switch v := v.(type) {
		case bool:
			s.highAvailability = v
		case string:
			b, err := strconv.ParseBool(v)
			if err != nil {
				return s, platform.Errorf(platform.Invalid, "high_availability must be true or false (got %q)", v)
			}
			s.highAvailability = b
		default:
			return s, platform.Errorf(platform.Invalid, "high_availability must be true or false (got %v)", v)
		}
	}
	if v, ok := params["backup_retention_days"]; ok {
		n, ok := wholeNumber(v)
		if !ok || n < 0 {
			return s, platform.Errorf(platform.Invalid, "backup_retention_days must be a whole number of days (got %v)", v)
		}
		s.backupDays = n
	}
	return s, nil
}

// wholeNumber returns v as an int64 when it is an integer of any of the
// types parameters arrive in.
func wholeNumber(v any) (int64, bool) {
	switch v := v.(type) {
	case int:
		return int64(v), true
	case int32:
		return int64(v), true
	case int64:
		return v, true
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return int64(v), true
		}
	case json.Number:
		n, err := v.Int64()
		return n, err == nil
	case string:
		n, err := strconv.ParseInt(v, 10, 64)
		return n, err == nil
	}
	return 0, false
}

// yesNo renders a boolean setting for a progress step.
func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// describe is the settings step's text.
func (s settings) describe() string {
	return fmt.Sprintf("recording settings (high availability: %s, backups: %d days)", yesNo(s.highAvailability), s.backupDays)
}
