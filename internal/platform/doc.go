// Package platform is the domain core of idpbot: service definitions, resource
// requests and their lifecycle, policies, provisioner contracts and the Engine
// that ties them together. It imports only the standard library; storage,
// chat platforms, job queues and policy languages plug in through the small
// interfaces declared here.
package platform
