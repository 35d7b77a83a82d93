package payments

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// stripeDouble is a real HTTP server in front of stripe-mock. stripe-mock is
// stateless: a Checkout Session it returns is always unpaid and of no
// amount. The double answers the retrieval of the sessions (and their
// payment intents) that the test registered, as Stripe would record them,
// and passes every other request on to stripe-mock.
type stripeDouble struct {
	srv      *httptest.Server
	mu       sync.Mutex
	sessions map[string]doubleSession // by session id
	// fee and feeCurrency give the payment's charge a balance transaction
	// with this fee (0: none, as stripe-mock's fixtures).
	fee         int64
	feeCurrency string
	down        atomic.Bool // answer 500 to everything
	// bts, when set, are Stripe's balance transactions: the list endpoint
	// answers them (filtered by payout and created range) instead of
	// stripe-mock's fixture.
	bts        []doubleBT
	retrievals atomic.Int64 // session retrievals answered
}

// doubleSession is Stripe's record of a Checkout Session.
type doubleSession struct {
	topup         string // metadata topup_id
	cents         int64  // amount_total
	currency      string
	paymentStatus string
	pi            string
	piStatus      string
	received      int64 // the payment intent's amount_received
}

func newStripeDouble(t testing.TB, upstream string) *stripeDouble {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	d := &stripeDouble{sessions: map[string]doubleSession{}}
	proxy := httputil.NewSingleHostReverseProxy(u)
	d.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d.down.Load() {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, `{"error":{"type":"api_error","message":"Stripe is down (test)"}}`)
			return
		}
		if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/checkout/sessions/") {
			d.session(w, r, strings.TrimPrefix(r.URL.Path, "/v1/checkout/sessions/"))
			return
		}
		if r.Method == http.MethodGet && r.URL.Path == "/v1/balance_transactions" && d.balanceTransactions(w, r) {
			return
		}
		if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/payment_intents/") {
			if d.paymentIntent(w, strings.TrimPrefix(r.URL.Path, "/v1/payment_intents/")) {
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(d.srv.Close)
	return d
}

// set registers (or replaces) Stripe's record of a session.
func (d *stripeDouble) set(id string, s doubleSession) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sessions[id] = s
}

func (d *stripeDouble) get(id string) (doubleSession, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s, ok := d.sessions[id]
	return s, ok
}

func (d *stripeDouble) session(w http.ResponseWriter, r *http.Request, id string) {
	s, ok := d.get(id)
	w.Header().Set("Content-Type", "application/json")
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"error":{"type":"invalid_request_error","code":"resource_missing","message":"No such checkout.session: '%s'"}}`, id)
		return
	}
	d.retrievals.Add(1)
	pi := fmt.Sprintf("%q", s.pi)
	if r.URL.Query().Get("expand[0]") == "payment_intent" {
		pi = fmt.Sprintf(`{"id":%q,"object":"payment_intent","amount":%d,"amount_received":%d,"currency":%q,"status":%q}`,
			s.pi, s.cents, s.received, s.currency, s.piStatus)
	}
	status := "complete"
	if s.paymentStatus == "unpaid" {
		status = "open"
	}
	fmt.Fprintf(w, `{"id":%q,"object":"checkout.session","mode":"payment","amount_total":%d,"currency":%q,
		"payment_status":%q,"status":%q,"payment_intent":%s,"metadata":{"topup_id":%q}}`,
		id, s.cents, s.currency, s.paymentStatus, status, pi, s.topup)
}

// paymentIntent answers the retrieval of a registered session's payment
// intent with its charge (ch_ + the intent's id without pi_) and, when a
// fee is set, the charge's balance transaction.
func (d *stripeDouble) paymentIntent(w http.ResponseWriter, id string) bool {
	d.mu.Lock()
	var s doubleSession
	found := false
	for _, v := range d.sessions {
		if v.pi == id {
			s, found = v, true
			break
		}
	}
	fee, cur := d.fee, d.feeCurrency
	d.mu.Unlock()
	if !found {
		return false
	}
	bt := "null"
	if fee > 0 {
		bt = fmt.Sprintf(`{"id":"txn_%s","object":"balance_transaction","amount":%d,"currency":%q,"fee":%d,"net":%d}`,
			id, s.cents, cur, fee, s.cents-fee)
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"id":%q,"object":"payment_intent","amount":%d,"amount_received":%d,"currency":%q,"status":%q,
		"latest_charge":{"id":"ch_%s","object":"charge","amount":%d,"currency":%q,"balance_transaction":%s}}`,
		id, s.cents, s.received, s.currency, s.piStatus, strings.TrimPrefix(id, "pi_"), s.cents, s.currency, bt)
	return true
}

// doubleBT is one of Stripe's balance transactions.
type doubleBT struct {
	id, typ, source string
	amount, fee     int64
	currency        string
	created         int64
	payout          string // the payout that paid it out ("" for none)
	// srcObject and charge, when set, give the source expanded (as with
	// expand[]=data.source): a "refund" or "dispute" object of that charge.
	srcObject, charge string
}

// addBT registers a balance transaction.
func (d *stripeDouble) addBT(bt doubleBT) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.bts = append(d.bts, bt)
}

// balanceTransactions answers the list of balance transactions (one page)
// when some are registered; false passes the request on to stripe-mock.
func (d *stripeDouble) balanceTransactions(w http.ResponseWriter, r *http.Request) bool {
	d.mu.Lock()
	bts := append([]doubleBT(nil), d.bts...)
	d.mu.Unlock()
	if len(bts) == 0 {
		return false
	}
	q := r.URL.Query()
	var data []string
	for _, bt := range bts {
		if p := q.Get("payout"); p != "" && bt.payout != p {
			continue
		}
		if v, err := strconv.ParseInt(q.Get("created[gte]"), 10, 64); err == nil && bt.created < v {
			continue
		}
		if v, err := strconv.ParseInt(q.Get("created[lt]"), 10, 64); err == nil && bt.created >= v {
			continue
		}
		source := strconv.Quote(bt.source)
		if bt.srcObject != "" {
			source = fmt.Sprintf(`{"id":%q,"object":%q,"charge":%q}`, bt.source, bt.srcObject, bt.charge)
		}
		data = append(data, fmt.Sprintf(`{"id":%q,"object":"balance_transaction","type":%q,"source":%s,"amount":%d,"fee":%d,"net":%d,"currency":%q,"created":%d,"status":"available"}`,
			bt.id, bt.typ, source, bt.amount, bt.fee, bt.amount-bt.fee, bt.currency, bt.created))
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"object":"list","url":"/v1/balance_transactions","has_more":false,"data":[%s]}`, strings.Join(data, ","))
	return true
}
