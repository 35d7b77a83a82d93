package bridge

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"tartine/internal/deviceapi"
)

// Bucket names of the bridge database.
var (
	bucketOutbox = []byte("outbox") // seq (8 bytes big-endian) → Record JSON
	bucketSeen   = []byte("seen")   // reader \x00 boot \x00 seq → tap id \x00 unix seconds
	bucketBadges = []byte("badges") // uid → Badge JSON
	bucketMeta   = []byte("meta")   // "badge_cursor" → cursor
)

var keyBadgeCursor = []byte("badge_cursor")

// ErrLocked is returned by OpenStore when another bridge process holds the
// database.
var ErrLocked = errors.New("bridge: outbox database is locked by another process")

// Record is one tap in the outbox.
type Record struct {
	Seq     uint64    `json:"-"` // outbox position (send order)
	ID      string    `json:"id"`
	Station string    `json:"station"`
	Reader  string    `json:"reader"`
	UID     string    `json:"uid"`
	Tech    string    `json:"tech"`
	ReadAt  time.Time `json:"read_at"`
	Offline bool      `json:"offline"`
	// Local is the feedback decided offline ("" when decided online).
	Local string `json:"local,omitempty"`
}

// API returns the record as sent to the server.
func (r Record) API() APITap {
	return APITap{ID: r.ID, Station: r.Station, UID: r.UID, Tech: r.Tech, ReadAt: r.ReadAt, Offline: r.Offline}
}

// SeenKey identifies a firmware read across resends and bridge restarts.
type SeenKey struct {
	Reader string
	Boot   uint32
	Seq    uint32
}

func (k SeenKey) bytes() []byte {
	b := append([]byte(k.Reader), 0)
	b = binary.BigEndian.AppendUint32(b, k.Boot)
	return binary.BigEndian.AppendUint32(b, k.Seq)
}

// Store is the bridge's durable state in one bbolt file: the outbox, the
// index of firmware reads already stored, and the offline badge cache.
// Every write is committed with fsync before the method returns.
type Store struct {
	db    *bolt.DB
	depth atomic.Int64
}

// OpenStore opens (creating if needed) the database in dir. It returns an
// error wrapping ErrLocked when another process has it open.
func OpenStore(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("bridge: data dir: %w", err)
	}
	path := filepath.Join(dir, "bridge.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, path)
		}
		return nil, fmt.Errorf("bridge: open %s: %w", path, err)
	}
	s := &Store{db: db}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketOutbox, bucketSeen, bucketBadges, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		s.depth.Store(int64(tx.Bucket(bucketOutbox).Stats().KeyN))
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("bridge: init %s: %w", path, err)
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Depth is the number of taps in the outbox.
func (s *Store) Depth() int { return int(s.depth.Load()) }

// Entry is one tap to append; Seen, when set, records the firmware read so a
// resend after a restart is recognised.
type Entry struct {
	Record *Record
	Seen   *SeenKey
}

// Append stores entries in one fsync'd transaction, in order, and sets each
// Record.Seq. An entry whose Seen key is already stored (a firmware resend) is
// not appended: its Record.ID is replaced by the stored id and dup[i] is true.
func (s *Store) Append(entries []Entry, now time.Time) (dup []bool, err error) {
	dup = make([]bool, len(entries))
	added := 0
	err = s.db.Update(func(tx *bolt.Tx) error {
		added = 0
		ob, seen := tx.Bucket(bucketOutbox), tx.Bucket(bucketSeen)
		for i, e := range entries {
			if e.Seen != nil {
				k := e.Seen.bytes()
				if v := seen.Get(k); v != nil {
					id, _, _ := cutNul(v)
					e.Record.ID = string(id)
					dup[i] = true
					continue
				}
				v := append([]byte(e.Record.ID), 0)
				v = binary.BigEndian.AppendUint64(v, uint64(now.Unix()))
				if err := seen.Put(k, v); err != nil {
					return err
				}
			}
			seq, err := ob.NextSequence()
			if err != nil {
				return err
			}
			e.Record.Seq = seq
			b, err := json.Marshal(e.Record)
			if err != nil {
				return err
			}
			if err := ob.Put(seqKey(seq), b); err != nil {
				return err
			}
			added++
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bridge: append to outbox: %w", err)
	}
	s.depth.Add(int64(added))
	return dup, nil
}

func cutNul(b []byte) (before, after []byte, ok bool) {
	for i, c := range b {
		if c == 0 {
			return b[:i], b[i+1:], true
		}
	}
	return b, nil, false
}

func seqKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), seq)
}

// Head returns up to n taps from the front of the outbox, oldest first.
func (s *Store) Head(n int) ([]Record, error) {
	out := make([]Record, 0, min(n, s.Depth()))
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketOutbox).Cursor()
		for k, v := c.First(); k != nil && len(out) < n; k, v = c.Next() {
			var r Record
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("outbox entry %x: %w", k, err)
			}
			r.Seq = binary.BigEndian.Uint64(k)
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bridge: read outbox: %w", err)
	}
	return out, nil
}

// Remove deletes delivered taps from the outbox.
func (s *Store) Remove(seqs []uint64) error {
	removed := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		removed = 0
		b := tx.Bucket(bucketOutbox)
		for _, seq := range seqs {
			k := seqKey(seq)
			if b.Get(k) == nil {
				continue
			}
			if err := b.Delete(k); err != nil {
				return err
			}
			removed++
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bridge: remove from outbox: %w", err)
	}
	s.depth.Add(-int64(removed))
	return nil
}

// MarkOffline records that the tap at seq was decided locally with feedback
// local. A tap already delivered (no longer in the outbox) is left alone.
// Concurrent calls are coalesced into one transaction.
func (s *Store) MarkOffline(seq uint64, local string) error {
	err := s.db.Batch(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOutbox)
		k := seqKey(seq)
		v := b.Get(k)
		if v == nil {
			return nil
		}
		var r Record
		if err := json.Unmarshal(v, &r); err != nil {
			return err
		}
		r.Offline, r.Local = true, local
		nv, err := json.Marshal(r)
		if err != nil {
			return err
		}
		return b.Put(k, nv)
	})
	if err != nil {
		return fmt.Errorf("bridge: mark tap %d offline: %w", seq, err)
	}
	return nil
}

// PruneSeen forgets firmware reads stored before cutoff (a firmware stops
// resending long before).
func (s *Store) PruneSeen(cutoff time.Time) (int, error) {
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		n = 0
		c := tx.Bucket(bucketSeen).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			_, ts, _ := cutNul(v)
			if len(ts) == 8 && int64(binary.BigEndian.Uint64(ts)) < cutoff.Unix() {
				if err := c.Delete(); err != nil {
					return err
				}
				n++
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("bridge: prune seen reads: %w", err)
	}
	return n, nil
}

// ApplyBadges applies a badge delta and stores the new cursor in one
// transaction.
func (s *Store) ApplyBadges(d BadgeDelta) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketBadges)
		for _, bd := range d.Badges {
			if bd.UID == "" {
				continue
			}
			if bd.Status == deviceapi.BadgeRemoved {
				if err := b.Delete([]byte(bd.UID)); err != nil {
					return err
				}
				continue
			}
			v, err := json.Marshal(bd)
			if err != nil {
				return err
			}
			if err := b.Put([]byte(bd.UID), v); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(keyBadgeCursor, []byte(d.Cursor))
	})
	if err != nil {
		return fmt.Errorf("bridge: apply badge delta: %w", err)
	}
	return nil
}

// Badge looks a badge up in the offline cache; ok is false when unknown.
// A ten-digit decimal uid is a printed number (decimal line readers send
// it, see slot.sent): when no badge has it as uid, the badge whose 4- or
// 5-byte uid ends with the four bytes it stands for is found, as the
// server would by the badge's printed number.
func (s *Store) Badge(uid string) (b Badge, ok bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketBadges)
		v := bk.Get([]byte(uid))
		if v == nil && isPrintedNumber(uid) {
			v = badgeByNumber(bk, uid)
		}
		if v == nil {
			return nil
		}
		ok = true
		return json.Unmarshal(v, &b)
	})
	if err != nil {
		return Badge{}, false, fmt.Errorf("bridge: badge cache: %w", err)
	}
	return b, ok, nil
}

// BadgeCursor returns the stored badge cursor ("" before the first refresh)
// and the number of cached badges.
func (s *Store) BadgeCursor() (cursor string, n int, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		cursor = string(tx.Bucket(bucketMeta).Get(keyBadgeCursor))
		n = tx.Bucket(bucketBadges).Stats().KeyN
		return nil
	})
	return cursor, n, err
}

// badgeByNumber scans the badge cache for the badge whose printed number
// (the decimal of the last four bytes of a 4- or 5-byte uid) is number.
func badgeByNumber(bk *bolt.Bucket, number string) []byte {
	n, err := strconv.ParseUint(number, 10, 64)
	if err != nil || n > math.MaxUint32 {
		return nil
	}
	want := fmt.Sprintf("%08X", n)
	var found []byte
	_ = bk.ForEach(func(k, v []byte) error {
		if (len(k) == 8 || len(k) == 10) && strings.EqualFold(string(k[len(k)-8:]), want) {
			found = v
			return errStop
		}
		return nil
	})
	return found
}

var errStop = errors.New("stop")
