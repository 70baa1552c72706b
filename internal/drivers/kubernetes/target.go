package kubernetes

import (
	"fmt"
	"maps"
	"sync"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/idpbot/idpbot/internal/platform"
)

// Clients are the API clients of one target.
type Clients struct {
	Typed kubernetes.Interface
	// Dynamic applies kinds the typed client does not know (HTTPRoute,
	// custom resources).
	Dynamic dynamic.Interface
}

// Connections are the clusters of a driver by environment, connected on
// first use and shared by the drivers that target the same clusters (this
// one and the manifests driver). It is safe for concurrent use.
type Connections struct {
	targets map[string]Target
	mu      sync.Mutex
	clients map[string]Clients
}

// NewConnections returns the connections to targets by environment;
// environments in clients use those (tests pass fakes) and count as
// configured even without a Target. It does no I/O.
func NewConnections(targets map[string]Target, clients map[string]Clients) *Connections {
	c := &Connections{targets: maps.Clone(targets), clients: make(map[string]Clients, len(clients))}
	if c.targets == nil {
		c.targets = map[string]Target{}
	}
	for env, cl := range clients {
		c.clients[env] = cl
		if _, ok := c.targets[env]; !ok {
			c.targets[env] = Target{}
		}
	}
	return c
}

// Check returns an Unavailable error when no target is configured or one is
// contradictory.
func (c *Connections) Check() error {
	if len(c.targets) == 0 {
		return platform.Errorf(platform.Unavailable, "no kubernetes target configured")
	}
	for env, t := range c.targets {
		if t.InCluster && t.Kubeconfig != "" {
			return platform.Errorf(platform.Unavailable, "the kubernetes target for %s sets both kubeconfig and in_cluster", env)
		}
	}
	return nil
}

// CheckEnvironment returns an Unavailable error when env has no target.
func (c *Connections) CheckEnvironment(env string) error {
	if err := c.Check(); err != nil {
		return err
	}
	if _, ok := c.targets[env]; !ok {
		return noTarget(env)
	}
	return nil
}

func noTarget(env string) error {
	return platform.Errorf(platform.Unavailable, "no kubernetes target configured for %s", env)
}

// Get returns the clients and target of env, connecting on first use.
func (c *Connections) Get(env string) (Clients, Target, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.targets[env]
	if !ok {
		return Clients{}, Target{}, noTarget(env)
	}
	if cl, ok := c.clients[env]; ok {
		return cl, t, nil
	}
	unavailable := func(err error) (Clients, Target, error) {
		return Clients{}, t, platform.Wrap(platform.Unavailable, err, fmt.Sprintf("the kubernetes target for %s cannot be loaded", env))
	}
	rc, err := restConfig(t)
	if err != nil {
		return unavailable(err)
	}
	typed, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return unavailable(err)
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return unavailable(err)
	}
	cl := Clients{Typed: typed, Dynamic: dyn}
	c.clients[env] = cl
	return cl, t, nil
}

func restConfig(t Target) (*rest.Config, error) {
	var rc *rest.Config
	var err error
	if t.InCluster {
		rc, err = rest.InClusterConfig()
	} else {
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		if t.Kubeconfig != "" {
			rules.ExplicitPath = t.Kubeconfig
		}
		rc, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: t.Context}).ClientConfig()
	}
	if err != nil {
		return nil, err
	}
	rc.UserAgent = "idpbot"
	if rc.Timeout == 0 {
		rc.Timeout = 30 * time.Second
	}
	return rc, nil
}
