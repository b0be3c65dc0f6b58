package rdb

import (
	"encoding/binary"
	"errors"
	"testing"
)

// A payload is stamped with the lowest version its encoding needs.
func TestDumpVersionStamp(t *testing.T) {
	cases := []struct {
		target int
		evs    []Event
		want   int
	}{
		{10, []Event{keyEv("k", TypeString, -1), {Kind: KindString, Value: []byte("v")}, endEv("k")}, 9},
		{12, []Event{keyEv("k", TypeSet, -1), {Kind: KindSetMember, Value: []byte("1")}, endEv("k")}, 9},
		{10, []Event{keyEv("k", TypeSet, -1), {Kind: KindSetMember, Value: []byte("a")}, endEv("k")}, 9},
		{11, []Event{keyEv("k", TypeSet, -1), {Kind: KindSetMember, Value: []byte("a")}, endEv("k")}, 11},
		{10, []Event{keyEv("k", TypeHash, -1), {Kind: KindHashField, Field: []byte("f"), Value: []byte("v")}, endEv("k")}, 10},
		{12, []Event{keyEv("k", TypeHash, -1), {Kind: KindHashField, Field: []byte("f"), Value: []byte("v"), ExpireAt: 5}, endEv("k")}, 12},
		{10, []Event{keyEv("k", TypeList, -1), {Kind: KindListItem, Value: []byte("x")}, endEv("k")}, 10},
		{9, []Event{keyEv("k", TypeList, -1), {Kind: KindListItem, Value: []byte("x")}, endEv("k")}, 9},
	}
	for i, tc := range cases {
		enc, err := NewDumpEncoder(&WriterOptions{Version: tc.target})
		if err != nil {
			t.Fatal(err)
		}
		for j := range tc.evs {
			if err := enc.Write(&tc.evs[j]); err != nil {
				t.Fatalf("case %d: %v", i, err)
			}
		}
		p, err := enc.AppendPayload([]byte("prefix"))
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		v, err := CheckDumpPayload(p[len("prefix"):])
		if err != nil || v != tc.want {
			t.Fatalf("case %d: version %d (%v), want %d", i, v, err, tc.want)
		}
	}
}

func TestCheckDumpPayload(t *testing.T) {
	mk := func(version int, body ...byte) []byte {
		p := binary.LittleEndian.AppendUint16(body, uint16(version))
		return binary.LittleEndian.AppendUint64(p, CRC64(0, p))
	}
	for _, v := range []int{1, 10, 12, 80, 81} {
		if _, err := CheckDumpPayload(mk(v, 0, 1, 'a')); err != nil {
			t.Fatalf("version %d: %v", v, err)
		}
	}
	for _, v := range []int{0, 13, 79, 82} {
		if _, err := CheckDumpPayload(mk(v, 0, 1, 'a')); !errors.Is(err, ErrDumpPayload) {
			t.Fatalf("version %d: %v", v, err)
		}
	}
	bad := mk(10, 0, 1, 'a')
	bad[0] ^= 1
	if _, err := CheckDumpPayload(bad); err != ErrDumpPayload {
		t.Fatalf("bad CRC: %v", err)
	}
	if _, err := NewDumpReader([]byte("k"), bad, &ReaderOptions{IgnoreChecksum: true}); err != nil {
		t.Fatalf("IgnoreChecksum: %v", err)
	}
	if _, err := CheckDumpPayload([]byte{1, 2, 3}); err != ErrDumpPayload {
		t.Fatalf("short payload: %v", err)
	}
}
