package payments

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"go/build"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"
	stripego "github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"

	"tartine/internal/dbtest"
	"tartine/ledger"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

const testWebhookSecret = "whsec_test_tartine"

// stripeMock is one stripe-mock process shared by the package's tests; it
// dies with the test process (Pdeathsig).
var stripeMock struct {
	once sync.Once
	url  string
	err  error
}

// stripeMockURL starts stripe-mock v0.180.0 on two free ports (HTTP and
// HTTPS) the first time and returns its HTTP base URL. A missing binary
// fails the test: it is never skipped.
func stripeMockURL(t testing.TB) string {
	t.Helper()
	stripeMock.once.Do(func() { stripeMock.url, stripeMock.err = startStripeMock() })
	if stripeMock.err != nil {
		t.Fatalf("stripe-mock: %v", stripeMock.err)
	}
	return stripeMock.url
}

func startStripeMock() (string, error) {
	bin, err := exec.LookPath("stripe-mock")
	if err != nil {
		bin = filepath.Join(build.Default.GOPATH, "bin", "stripe-mock")
		if _, serr := os.Stat(bin); serr != nil {
			return "", fmt.Errorf("binary not found on PATH nor at %s: run make test, or go install github.com/stripe/stripe-mock@v0.180.0", bin)
		}
	}
	httpPort, err := freePort()
	if err != nil {
		return "", err
	}
	httpsPort, err := freePort()
	if err != nil {
		return "", err
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, "-http-port", strconv.Itoa(httpPort), "-https-port", strconv.Itoa(httpsPort))
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start %s: %w", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	url := "http://127.0.0.1:" + strconv.Itoa(httpPort)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return "", fmt.Errorf("%s exited early (%v): %s", bin, err, out.String())
		default:
		}
		req, _ := http.NewRequest(http.MethodGet, url+"/v1/balance", nil)
		req.SetBasicAuth("sk_test_123", "")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	return "", fmt.Errorf("%s did not answer on %s within 20 s: %s", bin, url, out.String())
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// syncBuffer is a log sink safe for concurrent handlers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// recordingNotifier counts notifications.
type recordingNotifier struct {
	mu      sync.Mutex
	notices []TopUpNotice
}

func (n *recordingNotifier) TopUpReceived(_ context.Context, tn TopUpNotice) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.notices = append(n.notices, tn)
	return nil
}

func (n *recordingNotifier) count() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.notices)
}

// env is a test world: a database with one tenant, school, pupil (with a
// wallet) and guardian, and the Stripe service.
type env struct {
	pool     *pgxpool.Pool
	ledger   *ledger.Ledger
	stripe   *Stripe
	logs     *syncBuffer
	notifier *recordingNotifier
	tenant   int64
	pupil    int64
	wallet   int64
	guardian int64
	server   *httptest.Server // the webhook endpoint
	double   *stripeDouble    // Stripe's records of the sessions, in front of stripe-mock (nil with another apiBase)
}

// newEnv builds the world; apiBase "" means the shared stripe-mock behind
// a stripeDouble that knows the sessions of the top-ups inserted.
func newEnv(t testing.TB, apiBase string, httpClient *http.Client) *env {
	t.Helper()
	ctx := context.Background()
	var double *stripeDouble
	if apiBase == "" {
		double = newStripeDouble(t, stripeMockURL(t))
		apiBase = double.srv.URL
	}
	pool := dbtest.New(t)
	l := ledger.New(pool, nil)
	e := &env{pool: pool, ledger: l, logs: &syncBuffer{}, notifier: &recordingNotifier{}, double: double}
	var err error
	if e.tenant, err = l.EnsureTenant(ctx, "po-test", "PO de test"); err != nil {
		t.Fatal(err)
	}
	e.pupil, e.wallet = addPupil(t, pool, l, e.tenant, "Emma", "")
	if err := pool.QueryRow(ctx, `INSERT INTO guardians (tenant_id, first_name, last_name, email)
		VALUES ($1, 'Claire', 'Dupont', 'claire@example.be') RETURNING id`, e.tenant).Scan(&e.guardian); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO guardian_pupils (tenant_id, guardian_id, pupil_id) VALUES ($1, $2, $3)`,
		e.tenant, e.guardian, e.pupil); err != nil {
		t.Fatal(err)
	}
	e.stripe, err = NewStripe(StripeConfig{
		SecretKey:         "sk_test_123",
		WebhookSecret:     testWebhookSecret,
		APIBase:           apiBase,
		HTTPClient:        httpClient,
		MaxNetworkRetries: stripego.Int64(0),
	}, Deps{
		Ledger:   l,
		Log:      slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Notifier: e.notifier,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.server = httptest.NewServer(http.HandlerFunc(e.stripe.HandleWebhook))
	t.Cleanup(e.server.Close)
	return e
}

var schoolSeq sync.Mutex

// addPupil creates a pupil (and the tenant's school if needed) with a wallet
// of floor 0 and the given OGM ("" for none); it returns the pupil and wallet ids.
func addPupil(t testing.TB, pool *pgxpool.Pool, l *ledger.Ledger, tenant int64, first, ogm string) (int64, int64) {
	t.Helper()
	ctx := context.Background()
	schoolSeq.Lock()
	defer schoolSeq.Unlock()
	var school int64
	err := pool.QueryRow(ctx, `INSERT INTO schools (tenant_id, code, name) VALUES ($1, 'ecole', 'École des Tilleuls')
		ON CONFLICT (tenant_id, code) DO UPDATE SET name = EXCLUDED.name RETURNING id`, tenant).Scan(&school)
	if err != nil {
		t.Fatal(err)
	}
	var pupil int64
	var ogmArg *string
	if ogm != "" {
		ogmArg = &ogm
	}
	if err := pool.QueryRow(ctx, `INSERT INTO pupils (tenant_id, school_id, first_name, last_name, level, wallet_ogm)
		VALUES ($1, $2, $3, 'Dupont', 'P3', $4) RETURNING id`, tenant, school, first, ogmArg).Scan(&pupil); err != nil {
		t.Fatal(err)
	}
	zero := decimal.Zero
	w, err := l.EnsureAccount(ctx, tenant, ledger.AccountSpec{Code: fmt.Sprintf("wallet:%d", pupil), Name: "Portefeuille " + first,
		Type: ledger.Liability, Floor: &zero})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE pupils SET wallet_account_id = $3 WHERE tenant_id = $1 AND id = $2`, tenant, pupil, w.ID); err != nil {
		t.Fatal(err)
	}
	return pupil, w.ID
}

// insertTopUp records a pending top-up as StartTopUp would, without Stripe,
// with session id cs_<id>, and tells the Stripe double that the session was
// paid in full (payment intent pi_<first 8 of id>).
func (e *env) insertTopUp(t testing.TB, amount string) uuid.UUID {
	t.Helper()
	id := uuid.New()
	a := decimal.RequireFromString(amount)
	if _, err := e.pool.Exec(context.Background(), `INSERT INTO topups (tenant_id, id, pupil_id, wallet_account_id, guardian_id, amount, stripe_session_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, e.tenant, id, e.pupil, e.wallet, e.guardian, a, "cs_"+id.String()); err != nil {
		t.Fatal(err)
	}
	if e.double != nil {
		c := cents(a)
		e.double.set("cs_"+id.String(), doubleSession{topup: id.String(), cents: c, currency: "eur", paymentStatus: "paid",
			pi: "pi_" + id.String()[:8], piStatus: "succeeded", received: c})
	}
	return id
}

// event renders a Stripe event of the pinned API version around object.
func event(t testing.TB, id, typ string, object map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"id": id, "object": "event", "api_version": stripego.APIVersion, "created": time.Now().Unix(),
		"type": typ, "livemode": false, "pending_webhooks": 1,
		"data": map[string]any{"object": object},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sessionObject is a Checkout Session of the top-up as Stripe sends it.
func (e *env) sessionObject(id uuid.UUID, cents int64, paymentStatus string) map[string]any {
	return map[string]any{
		"id": "cs_" + id.String(), "object": "checkout.session", "mode": "payment",
		"amount_total": cents, "currency": "eur", "payment_status": paymentStatus, "status": "complete",
		"payment_intent": "pi_" + id.String()[:8],
		"metadata": map[string]string{
			metaTenant: strconv.FormatInt(e.tenant, 10), metaPupil: strconv.FormatInt(e.pupil, 10),
			metaWallet: strconv.FormatInt(e.wallet, 10), metaTopUp: id.String(),
		},
	}
}

// deliver posts payload signed with secret (testWebhookSecret when empty)
// and returns the status code and body.
func (e *env) deliver(t *testing.T, payload []byte, secret string) (int, string) {
	t.Helper()
	if secret == "" {
		secret = testWebhookSecret
	}
	sp := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret})
	return e.post(t, payload, sp.Header)
}

func (e *env) post(t *testing.T, payload []byte, sigHeader string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.server.URL, bytes.NewReader(payload))
	if err != nil {
		t.Error(err)
		return 0, ""
	}
	if sigHeader != "" {
		req.Header.Set("Stripe-Signature", sigHeader)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return 0, ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func (e *env) balance(t *testing.T, account int64) decimal.Decimal {
	t.Helper()
	b, err := e.ledger.Balance(context.Background(), e.tenant, account)
	if err != nil {
		t.Fatal(err)
	}
	return b.Posted
}

func (e *env) codeBalance(t *testing.T, code string) decimal.Decimal {
	t.Helper()
	a, err := e.ledger.AccountByCode(context.Background(), e.tenant, code)
	if err != nil {
		t.Fatalf("account %s: %v", code, err)
	}
	return e.balance(t, a.ID)
}

func (e *env) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// verify fails the test when the ledger's invariants are broken.
func (e *env) verify(t testing.TB) {
	t.Helper()
	v, _, err := e.ledger.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range v {
		t.Errorf("ledger violation: %s", x)
	}
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func newPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	return dbtest.New(t)
}
