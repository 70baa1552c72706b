// Package deploy holds idpbot's deployment artifacts: the container image
// (Dockerfile), a local stack (compose.yaml), a Kubernetes kustomize base,
// Prometheus alert rules with their promtool tests, a Grafana dashboard and
// an example configuration file. It has no Go code of its own; its tests
// parse every artifact and check the fields that must agree with the bot
// (image, ports, probe paths, environment, metric names).
package deploy
