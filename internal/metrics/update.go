package metrics

import "github.com/idpbot/idpbot/internal/platform"

// Updated implements platform.UpdateObserver: idp_resource_updates_total
// counts how changes of parameters ended.
func (m *Metrics) Updated(r *platform.Resource, result string) {
	m.updates.WithLabelValues(r.ServiceType, result).Inc()
}
