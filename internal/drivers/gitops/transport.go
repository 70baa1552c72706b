package gitops

import (
	"context"
	"errors"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
	"github.com/go-git/go-git/v5/plumbing/transport/server"
)

// go-git's file transport runs git-upload-pack and git-receive-pack, which
// the bot's image does not have. Repositories given as a path or file://
// URL are served in-process by go-git's own server instead. go-git chooses
// transports from a process-wide table only; this package is the bot's one
// user of go-git, so it owns the "file" entry.
func init() { client.InstallProtocol("file", localTransport{}) }

// localTransport is go-git's in-process server over the local file system,
// with reference updates that compare and swap as git's receive-pack does:
// a push whose expected old head is no longer the branch's head is refused,
// so replicas sharing a disk never overwrite each other's commits.
type localTransport struct{}

var _ transport.Transport = localTransport{}

// repoLocks serialises this process's sessions on one local repository:
// go-git's file storage writes a reference file in place (truncate, then
// write), so a fetch reading it during a push would see it empty ("ref file
// is empty"). Fetches share the lock; a push holds it alone from the
// session's start to its Close. (Processes sharing a disk are not covered:
// give each replica a repository URL, which serves them through a real git
// server.)
var repoLocks sync.Map // endpoint path → *sync.RWMutex

func repoLock(ep *transport.Endpoint) *sync.RWMutex {
	l, _ := repoLocks.LoadOrStore(ep.Path, new(sync.RWMutex))
	return l.(*sync.RWMutex)
}

func (localTransport) NewUploadPackSession(ep *transport.Endpoint, auth transport.AuthMethod) (transport.UploadPackSession, error) {
	l := repoLock(ep)
	l.RLock()
	s, err := server.NewClient(server.DefaultLoader).NewUploadPackSession(ep, auth)
	if err != nil {
		l.RUnlock()
		return nil, err
	}
	return &uploadSession{UploadPackSession: s, unlock: sync.OnceFunc(l.RUnlock)}, nil
}

func (localTransport) NewReceivePackSession(ep *transport.Endpoint, auth transport.AuthMethod) (transport.ReceivePackSession, error) {
	l := repoLock(ep)
	l.Lock()
	sto, err := server.DefaultLoader.Load(ep)
	if err != nil {
		l.Unlock()
		return nil, err
	}
	cas := &casStorer{Storer: sto}
	s, err := server.NewClient(server.MapLoader{ep.String(): cas}).NewReceivePackSession(ep, auth)
	if err != nil {
		l.Unlock()
		return nil, err
	}
	return &casSession{ReceivePackSession: s, cas: cas, unlock: sync.OnceFunc(l.Unlock)}, nil
}

// uploadSession releases its repository's shared lock when closed.
type uploadSession struct {
	transport.UploadPackSession
	unlock func()
}

func (s *uploadSession) Close() error {
	defer s.unlock()
	return s.UploadPackSession.Close()
}

// casSession tells its storer the old head each command expects, and
// releases its repository's lock when closed.
type casSession struct {
	transport.ReceivePackSession
	cas    *casStorer
	unlock func()
}

func (s *casSession) Close() error {
	defer s.unlock()
	return s.ReceivePackSession.Close()
}

func (s *casSession) ReceivePack(ctx context.Context, req *packp.ReferenceUpdateRequest) (*packp.ReportStatus, error) {
	s.cas.old = map[plumbing.ReferenceName]plumbing.Hash{}
	for _, c := range req.Commands {
		s.cas.old[c.Name] = c.Old
	}
	return s.ReceivePackSession.ReceivePack(ctx, req)
}

// casStorer updates a reference only if it still points where the pushing
// client saw it.
type casStorer struct {
	storer.Storer
	old map[plumbing.ReferenceName]plumbing.Hash
}

func (s *casStorer) SetReference(ref *plumbing.Reference) error {
	old, ok := s.old[ref.Name()]
	if !ok || old.IsZero() {
		// A creation: the server checked that the name is free.
		return s.Storer.SetReference(ref)
	}
	err := s.Storer.CheckAndSetReference(ref, plumbing.NewHashReference(ref.Name(), old))
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return errors.New("the branch was deleted meanwhile")
	}
	return err
}
