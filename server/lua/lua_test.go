package lua

import (
	"math"
	"strings"
	"testing"

	glua "github.com/yuin/gopher-lua"
)

// The byte-exact behaviour of scripts is checked against Redis by the differential scripts
// (server/testdata/diff/script_*.txt); these tests pin the helpers and run the decoders on
// hostile input.

func TestFormatNumber(t *testing.T) {
	for _, c := range []struct {
		f    float64
		want string
	}{
		{1.0 / 3, "0.33333333333333"}, {1e15, "1e+15"}, {math.Pow(2, 53), "9.007199254741e+15"},
		{0.1, "0.1"}, {math.Copysign(0, -1), "-0"}, {1e100, "1e+100"}, {100, "100"},
		{1e14, "1e+14"}, {123456789012, "123456789012"}, {-2.5e-9, "-2.5e-09"},
		{math.Inf(1), "inf"}, {math.Inf(-1), "-inf"}, {math.NaN(), "nan"},
	} {
		if got := formatNumber(c.f); got != c.want {
			t.Errorf("formatNumber(%v) = %q, want %q", c.f, got, c.want)
		}
	}
}

func TestToInteger(t *testing.T) {
	for _, c := range []struct {
		f    float64
		want int64
	}{
		{3.99, 3}, {-3.99, -3}, {1e300, math.MinInt64}, {math.NaN(), math.MinInt64},
		{math.Inf(1), math.MinInt64}, {9223372036854775807, math.MinInt64}, {-9223372036854775808, math.MinInt64},
	} {
		if got := toInteger(c.f); got != c.want {
			t.Errorf("toInteger(%v) = %d, want %d", c.f, got, c.want)
		}
	}
}

func TestStr2Number(t *testing.T) {
	for _, c := range []struct {
		s    string
		want float64
		ok   bool
	}{
		{"1e2", 100, true}, {"0x10", 16, true}, {" 10 ", 10, true}, {"", 0, false}, {"1e", 1, false},
		{".5", 0.5, true}, {"5.", 5, true}, {"-0x1p4", -16, true}, {"abc", 0, false},
		{"10\x00junk", 10, true}, {"1 2", 0, false}, {"+3", 3, true}, {"0x", 0, false},
	} {
		got, ok := str2number(c.s)
		if ok != c.ok || ok && got != c.want {
			t.Errorf("str2number(%q) = %v, %v; want %v, %v", c.s, got, ok, c.want, c.ok)
		}
	}
	if f, ok := str2number("inf"); !ok || !math.IsInf(f, 1) {
		t.Errorf("str2number(inf) = %v, %v", f, ok)
	}
}

func TestVersionNum(t *testing.T) {
	if got := versionNum("7.0.15"); got != 0x07000f {
		t.Fatalf("versionNum = %#x", got)
	}
}

// fakeHost answers every command with a fixed reply.
type fakeHost struct{ reply string }

func (h fakeHost) Command([][]byte, int) ([]byte, string) { return []byte(h.reply), "" }
func (h fakeHost) CheckACL([][]byte) (bool, bool)         { return true, true }

type recorder struct{ out []string }

func (r *recorder) ArrayLen(n int)              { r.out = append(r.out, "*"+itoa(int64(n))) }
func (r *recorder) MapLen(n int)                { r.out = append(r.out, "%"+itoa(int64(n))) }
func (r *recorder) SetLen(n int)                { r.out = append(r.out, "~"+itoa(int64(n))) }
func (r *recorder) Bulk(b []byte)               { r.out = append(r.out, "$"+string(b)) }
func (r *recorder) Int(n int64)                 { r.out = append(r.out, ":"+itoa(n)) }
func (r *recorder) Double(f float64)            { r.out = append(r.out, ","+formatNumber(f)) }
func (r *recorder) Bool(b bool)                 { r.out = append(r.out, "#"+map[bool]string{true: "t", false: "f"}[b]) }
func (r *recorder) Null()                       { r.out = append(r.out, "_") }
func (r *recorder) Status(s string)             { r.out = append(r.out, "+"+s) }
func (r *recorder) ErrorReply(m string, _ bool) { r.out = append(r.out, "-"+m) }
func (r *recorder) BigNumber(s string)          { r.out = append(r.out, "("+s) }
func (r *recorder) Verbatim(f, s string)        { r.out = append(r.out, "="+f+":"+s) }

func run(t *testing.T, vm *VM, body, reply string) string {
	t.Helper()
	sc, err := CompileScript(body)
	if err != nil {
		t.Fatalf("compile %q: %v", body, err)
	}
	out := vm.RunScript(sc, &Invocation{Host: fakeHost{reply}, Name: sc.SHA, Keys: [][]byte{[]byte("k")}})
	if out.Err != "" {
		return "-" + out.Err
	}
	var r recorder
	vm.WriteReply(&r, &out)
	return strings.Join(r.out, " ")
}

func TestReplyConversions(t *testing.T) {
	vm := NewVM(NewEnv(KindEval, NewRand(), "7.0.15"))
	defer vm.Close()
	for _, c := range []struct{ body, reply, want string }{
		{"return redis.call('x')", "*3\r\n:1\r\n$1\r\na\r\n$-1\r\n", "*3 :1 $a _"},
		{"return redis.call('x')", "+OK\r\n", "+OK"},
		{"return redis.pcall('x')", "-WRONGTYPE bad\r\n", "-WRONGTYPE bad"},
		{"return redis.call('x')", "-WRONGTYPE bad\r\n", "-WRONGTYPE bad script: " + SHA1Hex("return redis.call('x')") + ", on @user_script:1."},
		{"redis.setresp(3) return redis.call('x')", "%1\r\n$1\r\nf\r\n,1.5\r\n", "%1 $f ,1.5"},
		{"redis.setresp(3) return redis.call('x')", "~1\r\n$1\r\nm\r\n", "~1 $m"},
		{"redis.setresp(3) return redis.call('x')", "#t\r\n", "#t"},
		{"return redis.call('x')", "#f\r\n", "_"},
		{"return redis.call('x')", "_\r\n", "_"},
		{"return redis.call('x')", "(123\r\n", "(123"},
		{"return redis.call('x')", "=7\r\ntxt:abc\r\n", "=txt:abc"},
		{"return redis.call('x')", "|1\r\n+a\r\n+b\r\n:5\r\n", ":5"},
		{"return redis.call('x')", "*5\r\n:1\r\n", "*1 :1"}, // truncated: what parsed, no panic
		{"return KEYS[1]", "", "$k"},
	} {
		if got := run(t, vm, c.body, c.reply); got != c.want {
			t.Errorf("%s with reply %q: %q, want %q", c.body, c.reply, got, c.want)
		}
	}
}

// TestRandomSequence pins Redis's first math.random values after a start.
func TestRandomSequence(t *testing.T) {
	vm := NewVM(NewEnv(KindEval, NewRand(), "7.0.15"))
	defer vm.Close()
	if got := run(t, vm, "return {math.random(1000), math.random(1000), tostring(math.random())}", ""); got != "*3 :397 :841 $0.35333609737146" {
		t.Fatalf("math.random: %q", got)
	}
}

// callLib calls lib.fn(arg) in a VM and reports whether it raised.
func callLib(vm *VM, lib, fn string, arg glua.LValue) error {
	real := vm.real.RawGetString(lib).(*glua.LTable)
	f := vm.through(real).RawGetString(fn)
	vm.L.SetTop(0)
	vm.L.Push(f)
	vm.L.Push(arg)
	err := vm.L.PCall(1, glua.MultRet, nil)
	vm.L.SetTop(0)
	return err
}

func FuzzCJSONDecode(f *testing.F) {
	for _, s := range []string{`[1,2,{"a":null}]`, `"\u00e9\ud83d\ude00"`, `{"a":[1e500,-0,0x10]}`, `[[[[`, `"\`, `tru`, "\x00\x01"} {
		f.Add(s)
	}
	vm := NewVM(NewEnv(KindEval, NewRand(), "7.0.15"))
	f.Fuzz(func(t *testing.T, s string) {
		callLib(vm, "cjson", "decode", glua.LString(s))
	})
}

func FuzzMsgpackUnpack(f *testing.F) {
	for _, s := range []string{"\x93\x01\x02\x03", "\x81\xa1a\x01", "\xdc\x00\x02\x01", "\xdf\xff\xff\xff\xff", "\xd9\x05ab", "\xc1"} {
		f.Add(s)
	}
	vm := NewVM(NewEnv(KindEval, NewRand(), "7.0.15"))
	f.Fuzz(func(t *testing.T, s string) {
		callLib(vm, "cmsgpack", "unpack", glua.LString(s))
	})
}

func FuzzCompileScript(f *testing.F) {
	for _, s := range []string{"return 1", "#!lua flags=no-writes\nreturn 1", "return 1 +", "x(", "'abc", "--[[", "#!", "local function f() "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		CompileScript(s)
	})
}

// TestDeepScriptsRefused: scripts nested deeper than Lua allows, or whose syntax tree is
// deeper than the compiler's recursion may go, are refused with Lua's error instead of
// overflowing the goroutine stack (which would end the process).
func TestDeepScriptsRefused(t *testing.T) {
	const n = 200000
	for name, src := range map[string]string{
		"parens": "return " + strings.Repeat("(", n) + "1" + strings.Repeat(")", n),
		"braces": "return " + strings.Repeat("{", n) + strings.Repeat("}", n),
		"not":    "return " + strings.Repeat("not ", n) + "true",
		"do":     strings.Repeat("do ", n) + strings.Repeat("end ", n),
		"calls":  "local f = function() return f end return f" + strings.Repeat("()", n),
		"fields": "local t = {} return t" + strings.Repeat(".x", n),
		"sum":    "return 1" + strings.Repeat(" - 1", n),
	} {
		_, err := CompileScript(src)
		if err == nil || !strings.Contains(err.Error(), "chunk has too many syntax levels") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := CompileScript("return 1" + strings.Repeat(" - 1", 5000)); err != nil {
		t.Errorf("a long chain Lua accepts: %v", err)
	}
}
