package tools

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/stratadb/strata/rdb"
)

// Online import: every selected key of a dump goes to a running server, Strata or Redis, as
// RESTORE key ttl payload ABSTTL [REPLACE], the payload built by rdb.DumpEncoder from the
// key's events (so what Redis 7.0 restores, Strata restores, and the other way round).
// Commands are pipelined: up to ServerTarget.Pipeline in flight, replies read in batches.
//
// A key bigger than ServerTarget.MaxPayload (list, set, hash or sorted set) would need a
// payload as big as itself, in memory here and in the server's query buffer: its first
// MaxPayload bytes of elements go as one RESTORE, and once that is answered the rest follows
// as RPUSH, SADD, HSET or ZADD batches, then PEXPIREAT. Such a key is not created
// atomically (a client may see it grow), which the report counts (Chunked). Strings and
// streams always go whole.

// ServerTarget is a running server the tools talk to (resp.go): where an online import, an
// AOF replay or a migration goes, and migrate's source.
type ServerTarget struct {
	// Addr is host:port, or the path of a unix socket.
	Addr string
	// Username and Password authenticate (AUTH) when Password is set.
	Username, Password string
	// Replace overwrites keys that exist (RESTORE ... REPLACE); without it they are errors.
	Replace bool
	// MaxPayload is the most bytes of elements sent in one RESTORE (0: 32 MiB).
	MaxPayload int
	// Pipeline is how many commands may await their reply (0: 256).
	Pipeline int
	// Timeout bounds the connection and each batch of replies (0: one minute).
	Timeout time.Duration
}

const (
	defaultMaxPayload = 32 << 20
	chunkArgs         = 1000    // elements per command once a key goes in batches
	chunkBytes        = 1 << 20 // bytes per command once a key goes in batches
)

// onlineKey is the key being sent.
type onlineKey struct {
	name     []byte
	typ      rdb.ValueType
	expireAt int64
	bytes    int  // element bytes fed to the encoder
	chunked  bool // the key goes on in command batches
	failed   bool // its first RESTORE failed: drop the rest
	args     [][]byte
	argBytes int
}

// ImportToServer sends src's keys to the server at o.Target.Addr.
func ImportToServer(ctx context.Context, src EventSource, o ImportOptions) (*ImportReport, error) {
	start := time.Now()
	rep := &ImportReport{Path: "restore"}
	sel, err := o.selector()
	if err != nil {
		return nil, err
	}
	t := o.Target
	maxPayload := t.MaxPayload
	if maxPayload <= 0 {
		maxPayload = defaultMaxPayload
	}
	c, err := t.dial(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	defer func() { rep.Commands, rep.ErrCount, rep.Errors = c.Sent, c.Errors.Count, c.Errors.First }()
	enc, err := rdb.NewDumpEncoder(&rdb.WriterOptions{SpillThreshold: maxPayload + maxPayload/4, AllowLoss: true})
	if err != nil {
		return nil, err
	}
	p := o.Progress
	if p == nil {
		p = NoProgress{}
	}
	off, _ := src.(OffsetReporter)
	now := time.Now().UnixMilli()
	db := -1
	var (
		k       *onlineKey
		payload []byte
	)
	restore := func(ttl int64) error {
		var err error
		if payload, err = enc.AppendPayload(payload[:0]); err != nil {
			return fmt.Errorf("key %q: %w", k.name, err)
		}
		args := [][]byte{[]byte("RESTORE"), k.name, []byte(strconv.FormatInt(ttl, 10)), payload, []byte("ABSTTL")}
		if t.Replace {
			args = append(args, []byte("REPLACE"))
		}
		return c.send(sentCommand{name: fmt.Sprintf("RESTORE %q", k.name)}, args...)
	}
	for events := 1; ; events++ {
		ev, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return rep, err
		}
		if events%(1<<14) == 0 {
			if err := ctx.Err(); err != nil {
				return rep, err
			}
			if off != nil {
				rep.Bytes = off.Offset()
			}
			p.Update(rep.Bytes, rep.Keys)
		}
		switch ev.Kind {
		case rdb.KindKey:
			switch {
			case !o.KeepExpired && ev.Header.ExpireAt != 0 && ev.Header.ExpireAt <= now:
				rep.Expired++
				continue
			case sel != nil && !sel(ev.DB, ev.Key, ev.Header.Type):
				rep.Filtered++
				continue
			case ev.Header.Type == rdb.TypeModule:
				continue
			}
			if ev.DB != db {
				db = ev.DB
				if err := c.send(sentCommand{}, []byte("SELECT"), []byte(strconv.Itoa(db))); err != nil {
					return rep, err
				}
			}
			k = &onlineKey{name: append([]byte(nil), ev.Key...), typ: ev.Header.Type, expireAt: ev.Header.ExpireAt}
			ev.Header.Len = -1 // the encoder may be stopped before the last element
			if err := enc.Write(&ev); err != nil {
				return rep, fmt.Errorf("key %q: %w", k.name, err)
			}
		case rdb.KindEndKey:
			if k == nil {
				continue
			}
			if err := finishOnline(c, enc, k, restore); err != nil {
				return rep, err
			}
			rep.Keys++
			if k.chunked {
				rep.Chunked++
			}
			k = nil
		case rdb.KindModuleSkipped:
			if ev.Key != nil {
				rep.Modules++
			}
		case rdb.KindFunction:
			rep.Functions++
		default:
			if k == nil || !isElement(ev.Kind) && ev.Kind != rdb.KindString && k.typ != rdb.TypeStream {
				continue
			}
			if ev.Kind == rdb.KindHashField && ev.ExpireAt != 0 {
				if ev.ExpireAt <= now {
					continue
				}
				rep.FieldTTLs++
			}
			if err := onlineElement(c, enc, k, &ev, maxPayload, restore); err != nil {
				return rep, err
			}
		}
	}
	if err := c.sync(); err != nil {
		return rep, err
	}
	if off != nil {
		rep.Bytes = off.Offset()
	}
	p.Update(rep.Bytes, rep.Keys)
	p.Finish()
	rep.Elapsed = time.Since(start)
	return rep, c.Errors.Err()
}

// onlineElement passes one element of k on: into the payload, or, once k goes in batches,
// into the next command.
func onlineElement(c *respClient, enc *rdb.DumpEncoder, k *onlineKey, ev *rdb.Event, maxPayload int, restore func(int64) error) error {
	if k.failed {
		return nil
	}
	if !k.chunked {
		if err := enc.Write(ev); err != nil {
			return fmt.Errorf("key %q: %w", k.name, err)
		}
		k.bytes += len(ev.Value) + len(ev.Field) + 8
		if k.bytes < maxPayload || k.typ == rdb.TypeString || k.typ == rdb.TypeStream {
			return nil
		}
		// Too big for one payload: what came so far goes as a RESTORE without TTL, answered
		// before the rest is added to it.
		end := rdb.Event{Kind: rdb.KindEndKey}
		if err := enc.Write(&end); err != nil {
			return fmt.Errorf("key %q: %w", k.name, err)
		}
		k.chunked = true
		if err := restore(0); err != nil {
			return err
		}
		if err := c.sync(); err != nil {
			return err
		}
		k.failed = c.lastErr != ""
		return nil
	}
	switch ev.Kind {
	case rdb.KindListItem, rdb.KindSetMember:
		k.args = append(k.args, append([]byte(nil), ev.Value...))
	case rdb.KindHashField:
		k.args = append(k.args, append([]byte(nil), ev.Field...), append([]byte(nil), ev.Value...))
	case rdb.KindZSetMember:
		k.args = append(k.args, []byte(strconv.FormatFloat(ev.Score, 'g', 17, 64)), append([]byte(nil), ev.Value...))
	}
	k.argBytes += len(ev.Value) + len(ev.Field)
	if len(k.args) >= chunkArgs || k.argBytes >= chunkBytes {
		return flushChunk(c, k)
	}
	return nil
}

var chunkCommand = map[rdb.ValueType]string{
	rdb.TypeList: "RPUSH", rdb.TypeSet: "SADD", rdb.TypeHash: "HSET", rdb.TypeZSet: "ZADD",
}

func flushChunk(c *respClient, k *onlineKey) error {
	if len(k.args) == 0 {
		return nil
	}
	name := chunkCommand[k.typ]
	args := append([][]byte{[]byte(name), k.name}, k.args...)
	k.args, k.argBytes = k.args[:0], 0
	return c.send(sentCommand{name: fmt.Sprintf("%s %q", name, k.name)}, args...)
}

// finishOnline sends the end of k: its RESTORE, or its last batch and its expiry.
func finishOnline(c *respClient, enc *rdb.DumpEncoder, k *onlineKey, restore func(int64) error) error {
	if !k.chunked {
		end := rdb.Event{Kind: rdb.KindEndKey}
		if err := enc.Write(&end); err != nil {
			return fmt.Errorf("key %q: %w", k.name, err)
		}
		return restore(k.expireAt)
	}
	if k.failed {
		return nil
	}
	if err := flushChunk(c, k); err != nil {
		return err
	}
	if k.expireAt != 0 {
		return c.send(sentCommand{name: fmt.Sprintf("PEXPIREAT %q", k.name)}, []byte("PEXPIREAT"), k.name,
			[]byte(strconv.FormatInt(k.expireAt, 10)))
	}
	return nil
}
