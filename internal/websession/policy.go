package websession

import (
	"errors"
	"io/fs"
	"net/http"
	"path"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"
)

// Route policies: every route names, among its handlers (on the route or
// on one of its groups), exactly one of the functions below, which says who
// may call it and within which scope:
//
//	r.GET("/portal/login", websession.Public, a.loginForm)
//	ad := g.Group("", a.require(school.RoleAdmin), websession.SchoolAdmin)
//	ad.GET("/pupils", a.pupils) // inherits SchoolAdmin
//
// They let the request through unchanged: the handlers around them check
// (session kind, role, school, family). What a policy promises is proved by
// cmd/tartine's route policy test, which calls every route as every role,
// from another school and from another organising body; and PolicyGuard
// refuses, at run time, a route that names none (or two). docs/SECURITY.md
// has the threat model and the table of policies.
//
// Public: anyone — login, registration and reset forms, static files,
// /healthz.
func Public(c *gin.Context) { c.Next() }

// Device: a bridge signing with its HMAC secret (terminal device API); its
// organising body, and its school's stations when it is bound to one.
func Device(c *gin.Context) { c.Next() }

// Webhook: an outside service that signs the body (Stripe); no session.
func Webhook(c *gin.Context) { c.Next() }

// Operator: the people running the server (/metrics): loopback, or the
// bearer token of TARTINE_METRICS_TOKEN.
func Operator(c *gin.Context) { c.Next() }

// Guardian: a signed-in parent account; only the pupils of its own family
// (other ids give 404).
func Guardian(c *gin.Context) { c.Next() }

// Staff: any signed-in staff member; each screen checks the role
// its station kind needs (canteen, daycare, kiosk; admins every kind) and
// that the station, pupil or receipt is of the member's school (every
// school for members bound to none).
func Staff(c *gin.Context) { c.Next() }

// SchoolAdmin: a staff admin; the school the admin is bound to (every
// school of the organising body for an admin bound to none).
func SchoolAdmin(c *gin.Context) { c.Next() }

// Books: an accountant (or admin) of the organising body: the ledger is
// the organising body's, not a school's.
func Books(c *gin.Context) { c.Next() }

// BackOffice: an admin or accountant (the back office's home).
func BackOffice(c *gin.Context) { c.Next() }

// Upload marks a route that takes a file (a bank statement): its body may
// be up to UploadLimit instead of FormLimit.
func Upload(c *gin.Context) { c.Next() }

// Request body limits, applied by PolicyGuard before anything reads the
// body: a larger Content-Length is refused at once (413), a body that grows
// past the limit stops there.
const (
	FormLimit   = 128 << 10 // pages and forms
	APILimit    = 1 << 20   // device API and webhooks (Device, Webhook)
	UploadLimit = 8 << 20   // routes marked Upload
)

// policies maps a policy function's name to its short name.
var policies = func() map[string]string {
	m := map[string]string{}
	for name, h := range map[string]gin.HandlerFunc{"public": Public, "device": Device, "webhook": Webhook, "operator": Operator,
		"guardian": Guardian, "staff": Staff, "school-admin": SchoolAdmin, "books": Books, "back-office": BackOffice} {
		m[funcName(h)] = name
	}
	return m
}()

func funcName(h gin.HandlerFunc) string {
	return runtime.FuncForPC(reflect.ValueOf(h).Pointer()).Name()
}

// PolicyOf returns the short name of the policy among a route's handler
// names (gin.Context.HandlerNames): "public", "device", "webhook",
// "operator", "guardian", "staff", "school-admin", "books",
// "back-office"; ErrNoPolicy when it names none or more than one.
func PolicyOf(handlerNames []string) (string, error) {
	var found []string
	for _, n := range handlerNames {
		if p, ok := policies[n]; ok {
			found = append(found, p)
		}
	}
	if len(found) != 1 {
		return "", ErrNoPolicy
	}
	return found[0], nil
}

// ErrNoPolicy: a route names no policy, or more than one.
var ErrNoPolicy = errors.New("websession: route declares no policy (or more than one)")

// PolicyGuard is the engine's first middleware: it refuses (500, once
// logged through onMissing) a request to a route whose handlers name no
// policy, so a route registered without one fails closed, and it bounds the
// request body (FormLimit, APILimit, UploadLimit) before any handler reads
// it. The policy of each route is computed once; Policy reports it.
type PolicyGuard struct {
	onMissing func(method, route string)
	mu        sync.Mutex
	seen      map[string]routeInfo // method + " " + route
}

type routeInfo struct {
	policy string // "" when none
	limit  int64
}

// NewPolicyGuard returns a guard; onMissing (may be nil) is called the
// first time a route without policy is requested.
func NewPolicyGuard(onMissing func(method, route string)) *PolicyGuard {
	return &PolicyGuard{onMissing: onMissing, seen: map[string]routeInfo{}}
}

// Handle is the middleware.
func (g *PolicyGuard) Handle(c *gin.Context) {
	route := c.FullPath()
	if route == "" { // no route: gin's 404/405
		c.Next()
		return
	}
	key := c.Request.Method + " " + route
	g.mu.Lock()
	ri, ok := g.seen[key]
	g.mu.Unlock()
	if !ok {
		names := c.HandlerNames()
		ri.policy, _ = PolicyOf(names)
		switch {
		case slices.Contains(names, funcName(Upload)):
			ri.limit = UploadLimit
		case ri.policy == "device" || ri.policy == "webhook":
			ri.limit = APILimit
		default:
			ri.limit = FormLimit
		}
		g.mu.Lock()
		g.seen[key] = ri
		g.mu.Unlock()
		if ri.policy == "" && g.onMissing != nil {
			g.onMissing(c.Request.Method, route)
		}
	}
	if ri.policy == "" {
		c.AbortWithStatus(http.StatusInternalServerError)
		return
	}
	if c.Request.ContentLength > ri.limit {
		c.Header("Connection", "close")
		c.AbortWithStatus(http.StatusRequestEntityTooLarge)
		return
	}
	if c.Request.Body != nil {
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, ri.limit)
	}
	c.Next()
}

// Policy returns the policy the guard found for a route already requested,
// and whether it was requested.
func (g *PolicyGuard) Policy(method, route string) (string, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	ri, ok := g.seen[method+" "+route]
	return ri.policy, ok
}

// StaticFS serves fsys under relativePath as public files, without
// directory listings (a directory without index.html is 404).
func StaticFS(r gin.IRouter, relativePath string, fsys fs.FS) {
	r.Group(relativePath, Public).StaticFS("", http.FS(noListing{fsys}))
}

// noListing hides directories from http.FileServer.
type noListing struct{ fsys fs.FS }

func (n noListing) Open(name string) (fs.File, error) {
	name = strings.TrimPrefix(path.Clean("/"+name), "/")
	if name == "" {
		name = "."
	}
	f, err := n.fsys.Open(name)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if st.IsDir() {
		f.Close()
		return nil, fs.ErrNotExist
	}
	return f, nil
}
