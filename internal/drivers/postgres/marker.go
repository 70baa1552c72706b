package postgres

import (
	"encoding/json"
	"fmt"
)

// managedBy is the value of a marker's managed_by.
const managedBy = "idpbot"

// marker is the JSON the driver writes as the comment of the roles and
// databases it creates. It tells them apart from objects it must not touch,
// and records the resource's settings where a DBA will see them.
type marker struct {
	ManagedBy   string `json:"managed_by"`
	ResourceID  int64  `json:"resource_id"`
	Service     string `json:"service,omitempty"`
	Team        string `json:"team"`
	Environment string `json:"environment"`
	Name        string `json:"name"`
	// HighAvailability and BackupRetentionDays are recorded on databases.
	HighAvailability    *bool  `json:"high_availability,omitempty"`
	BackupRetentionDays *int64 `json:"backup_retention_days,omitempty"`
}

// String returns the marker as a JSON comment.
func (m marker) String() string {
	b, err := json.Marshal(m)
	if err != nil {
		// A struct of strings, numbers and booleans always marshals.
		panic(fmt.Sprintf("marshal marker: %v", err))
	}
	return string(b)
}

// parseMarker reads a comment written by marker.String; ok is false for a
// missing comment or one idpbot did not write.
func parseMarker(comment *string) (m marker, ok bool) {
	if comment == nil {
		return m, false
	}
	if err := json.Unmarshal([]byte(*comment), &m); err != nil {
		return m, false
	}
	return m, m.ManagedBy == managedBy
}
