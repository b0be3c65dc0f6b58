package engine

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stratadb/strata/encoding"
)

func TestFootprint(t *testing.T) {
	e := openTestEngine(t)
	var fields [][]byte
	for i := 0; i < 10; i++ {
		fields = append(fields, []byte{'f', byte('0' + i)}, []byte("value"))
	}
	inTxn(t, e, 0, func(tx *Txn) error {
		if _, err := tx.Set([]byte("s"), []byte("hello"), SetArgs{}); err != nil {
			return err
		}
		if _, err := tx.Set([]byte("big"), []byte(strings.Repeat("x", 3*encoding.InlineMax)), SetArgs{}); err != nil {
			return err
		}
		_, err := tx.HSet([]byte("h"), fields)
		return err
	})
	inTxn(t, e, 0, func(tx *Txn) error {
		fp, ok, err := tx.Footprint([]byte("s"), 5)
		metaKey := len(encoding.AppendMetaKey(nil, 0, []byte("s")))
		if err != nil || !ok || fp.Total() != int64(metaKey+encoding.MetaHeaderLen+5) || fp.Sampled {
			t.Fatalf("string: %+v %v %v", fp, ok, err)
		}
		if _, ok, _ := tx.Footprint([]byte("nokey"), 5); ok {
			t.Fatal("a missing key has a footprint")
		}
		big, _, _ := tx.Footprint([]byte("big"), 0)
		if big.Elements < 3*encoding.InlineMax {
			t.Fatalf("chunked string: %+v", big)
		}
		all, _, _ := tx.Footprint([]byte("h"), 0)
		sampled, _, _ := tx.Footprint([]byte("h"), 3)
		if all.Sampled || !sampled.Sampled || all.Elements != sampled.Elements || all.Elements == 0 {
			t.Fatalf("hash: all %+v, sampled %+v", all, sampled)
		}
		return nil
	})
	inTxn(t, e, 0, func(tx *Txn) error {
		_, err := tx.Expire([]byte("s"), time.Now().Add(time.Hour).UnixMilli(), 0)
		return err
	})
	inTxn(t, e, 0, func(tx *Txn) error {
		fp, _, _ := tx.Footprint([]byte("s"), 5)
		if fp.Expiry == 0 {
			t.Fatalf("a key with a TTL has an expiry entry: %+v", fp)
		}
		return nil
	})
}

// Active expiry stops while switched off or paused, and reports each cycle.
func TestActiveExpireSwitch(t *testing.T) {
	var cycles atomic.Int64
	e, err := Open(Options{Dir: t.TempDir(), ActiveExpireInterval: time.Millisecond,
		Hooks: Hooks{ExpireCycle: func(time.Duration) { cycles.Add(1) }}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	e.SetActiveExpire(false)
	e.PauseActiveExpire(true)
	inTxn(t, e, 0, func(tx *Txn) error {
		_, err := tx.Set([]byte("k"), []byte("v"), SetArgs{ExpireAt: time.Now().Add(time.Millisecond).UnixMilli()})
		return err
	})
	e.SetActiveExpire(true) // still paused
	e.PauseActiveExpire(false)
	deadline := time.Now().Add(10 * time.Second)
	for e.KeyspaceStats(0).Keys != 0 || cycles.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("keys %d, cycles %d", e.KeyspaceStats(0).Keys, cycles.Load())
		}
		time.Sleep(time.Millisecond)
	}
}

// ReleaseReads lets a long walk forget what it read.
func TestReleaseReads(t *testing.T) {
	e := openTestEngine(t)
	inTxn(t, e, 0, func(tx *Txn) error {
		_, err := tx.Set([]byte("k"), []byte(strings.Repeat("v", 1000)), SetArgs{})
		return err
	})
	inTxn(t, e, 0, func(tx *Txn) error {
		for i := 0; i < 100; i++ {
			if _, _, err := tx.Get([]byte("k")); err != nil {
				return err
			}
			tx.ReleaseReads()
		}
		if len(tx.arena) != 0 {
			t.Fatalf("arena holds %d bytes", len(tx.arena))
		}
		return nil
	})
}
