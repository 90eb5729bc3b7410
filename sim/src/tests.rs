//! End-to-end tests of the simulator: commands and scripts in, bytes and exit codes out.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use proptest::prelude::*;

use super::*;
use crate::testing::{Collect, TokioClock, pipe};

fn ctx() -> ExecContext<TokioClock> {
    let mut env = BTreeMap::new();
    env.insert("HOME".to_owned(), "/root".to_owned());
    env.insert("PATH".to_owned(), "/usr/local/bin:/usr/bin:/bin".to_owned());
    env.insert("FOO".to_owned(), "bar".to_owned());
    let mut files = BTreeMap::new();
    let file = |s: &str, mode: u32| UploadedFile {
        content: Bytes::copy_from_slice(s.as_bytes()),
        mode,
        is_dir: false,
    };
    files.insert("data/in.txt".to_owned(), file("hello\nworld\n", 0o644));
    files.insert(
        "run.sh".to_owned(),
        file("#!/bin/bash\necho \"from script $1\"\nexit 5\n", 0o755),
    );
    files.insert(
        "lib.sh".to_owned(),
        file("greet() { echo \"hi $1\"; }\nLOADED=yes\n", 0o644),
    );
    files.insert(
        "empty".to_owned(),
        UploadedFile {
            content: Bytes::new(),
            mode: 0o755,
            is_dir: true,
        },
    );
    ExecContext {
        env: Arc::new(env),
        files: Arc::new(files),
        work_dir: "/work".into(),
        job_id: "job-1".into(),
        clock: TokioClock,
    }
}

fn scenarios() -> Vec<Scenario> {
    let yaml = r#"
scenarios:
  - name: extract
    match: { command: python, args: ["extract.py"] }
    steps:
      - print: "extracting..."
      - sleep: 0.5
      - bytes: 130
      - print: "done"
    exit: 3
  - match: { command: node, args_prefix: ["server.js"] }
    steps:
      - lines: { count: 3, text: "req {n}", interval: 1 }
      - cat: data/in.txt
"#;
    parse_scenarios(yaml, Path::new("test.yaml")).unwrap()
}

async fn run_with(sim: &Simulator, cmd: &str, args: &[&str]) -> (String, i32) {
    let mut out = Collect::default();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let code = sim.run(cmd, &args, &ctx(), &mut out).await;
    (out.text(), code)
}

async fn run(cmd: &str, args: &[&str]) -> (String, i32) {
    run_with(
        &Simulator::new(scenarios(), UnknownCommand::Succeed),
        cmd,
        args,
    )
    .await
}

async fn bash(script: &str) -> (String, i32) {
    run("bash", &["-c", script]).await
}

async fn bash_fail(script: &str) -> (String, i32) {
    run_with(
        &Simulator::new(scenarios(), UnknownCommand::Fail),
        "bash",
        &["-c", script],
    )
    .await
}

/// Runs with a concurrent reader behind a pipe of `capacity` pieces; returns
/// the total bytes read, a checksum of them (count of each byte value), the
/// exit code and the largest piece.
async fn run_streamed(cmd: &str, args: &[&str], capacity: usize) -> (u64, [u64; 256], i32, u64) {
    let (mut w, mut reader) = pipe(capacity);
    let reading = tokio::spawn(async move {
        let mut total = 0u64;
        let mut hist = [0u64; 256];
        let mut max_piece = 0u64;
        while let Some(b) = reader.next().await {
            total += b.len() as u64;
            max_piece = max_piece.max(b.len() as u64);
            if total <= 64 << 20 {
                for &x in b.iter() {
                    hist[x as usize] += 1;
                }
            }
        }
        (total, hist, max_piece)
    });
    let sim = Simulator::default();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let code = sim.run(cmd, &args, &ctx(), &mut w).await;
    drop(w);
    let (total, hist, max_piece) = reading.await.unwrap();
    (total, hist, code, max_piece)
}

/// A lone `!` (found by `arbitrary_scripts_never_panic`): an empty pipeline,
/// negated, as bash runs it.
#[tokio::test]
async fn a_lone_bang_is_an_empty_pipeline_negated() {
    assert_eq!(bash("!").await, ("".into(), 1));
    assert_eq!(bash("! ; echo after").await, ("after\n".into(), 0));
}

#[tokio::test]
async fn echo_variants() {
    assert_eq!(
        run("echo", &["hello", "world"]).await,
        ("hello world\n".into(), 0)
    );
    assert_eq!(run("echo", &[]).await, ("\n".into(), 0));
    assert_eq!(run("echo", &["-n", "x"]).await, ("x".into(), 0));
    assert_eq!(
        run("echo", &["-e", "a\\tb\\n"]).await,
        ("a\tb\n\n".into(), 0)
    );
    assert_eq!(run("echo", &["-e", "a\\cb"]).await, ("a".into(), 0));
    assert_eq!(run("echo", &["a\\tb"]).await, ("a\\tb\n".into(), 0));
    assert_eq!(run("echo", &["-x", "y"]).await, ("-x y\n".into(), 0));
    assert_eq!(run("echo", &["-ne", "z\\n"]).await, ("z\n".into(), 0));
    assert_eq!(run("/bin/echo", &["abs"]).await, ("abs\n".into(), 0));
}

#[tokio::test]
async fn printf_true_false_pwd_exit() {
    assert_eq!(
        run("printf", &["%s-%d\\n", "a", "1", "b", "2"]).await,
        ("a-1\nb-2\n".into(), 0)
    );
    assert_eq!(
        run("printf", &["%5.2f|%x\n", "3.14159", "255"]).await,
        (" 3.14|ff\n".into(), 0)
    );
    assert_eq!(run("true", &[]).await, (String::new(), 0));
    assert_eq!(run("false", &[]).await, (String::new(), 1));
    assert_eq!(run("pwd", &[]).await, ("/work\n".into(), 0));
    assert_eq!(run("exit", &["3"]).await, (String::new(), 3));
    assert_eq!(bash("exit 300").await, (String::new(), 44));
    let (out, code) = run("printf", &["%d\\n", "x"]).await;
    assert_eq!((out.as_str(), code), ("printf: x: invalid number\n0\n", 1));
}

#[tokio::test]
async fn seq_outputs() {
    assert_eq!(run("seq", &["3"]).await.0, "1\n2\n3\n");
    assert_eq!(run("seq", &["2", "4"]).await.0, "2\n3\n4\n");
    assert_eq!(run("seq", &["1", "3", "10"]).await.0, "1\n4\n7\n10\n");
    assert_eq!(run("seq", &["3", "-1", "1"]).await.0, "3\n2\n1\n");
    assert_eq!(run("seq", &["5", "1"]).await, (String::new(), 0));
    assert_eq!(
        run("seq", &["1", "0.5", "3"]).await.0,
        "1.0\n1.5\n2.0\n2.5\n3.0\n"
    );
    assert_eq!(
        run("seq", &["0.1", "0.1", "0.35"]).await.0,
        "0.1\n0.2\n0.3\n"
    );
    assert_eq!(run("seq", &["-w", "8", "11"]).await.0, "08\n09\n10\n11\n");
    assert_eq!(run("seq", &["-s", ",", "3"]).await.0, "1,2,3\n");
    assert_eq!(run("seq", &["-f", "%03g", "3"]).await.0, "001\n002\n003\n");
    assert_eq!(run("seq", &["-2", "0"]).await.0, "-2\n-1\n0\n");
    let (out, code) = run("seq", &[]).await;
    assert_eq!(code, 1);
    assert_eq!(
        out,
        "seq: missing operand\nTry 'seq --help' for more information.\n"
    );
    assert_eq!(run("seq", &["x"]).await.1, 1);
}

#[tokio::test]
async fn seq_million_is_exact() {
    let (out, code) = run("seq", &["1000000"]).await;
    assert_eq!(code, 0);
    let mut want = String::with_capacity(6_888_897);
    for i in 1..=1_000_000 {
        want.push_str(&i.to_string());
        want.push('\n');
    }
    assert_eq!(out.len(), want.len());
    assert!(out == want);
}

#[tokio::test]
async fn cat_files() {
    assert_eq!(
        run("cat", &["data/in.txt"]).await,
        ("hello\nworld\n".into(), 0)
    );
    assert_eq!(
        run("cat", &["/work/data/in.txt"]).await,
        ("hello\nworld\n".into(), 0)
    );
    assert_eq!(
        run("cat", &["./data/../data/in.txt", "data/in.txt"])
            .await
            .0,
        "hello\nworld\nhello\nworld\n"
    );
    assert_eq!(
        run("cat", &["nope.txt"]).await,
        ("cat: nope.txt: No such file or directory\n".into(), 1)
    );
    assert_eq!(
        run("cat", &["data"]).await,
        ("cat: data: Is a directory\n".into(), 1)
    );
    assert_eq!(
        run("cat", &["empty"]).await,
        ("cat: empty: Is a directory\n".into(), 1)
    );
    assert_eq!(
        run("cat", &["-n", "data/in.txt"]).await.0,
        "     1\thello\n     2\tworld\n"
    );
    assert_eq!(run("cat", &[]).await, (String::new(), 0));
    assert_eq!(run("head", &["-n", "1", "data/in.txt"]).await.0, "hello\n");
    assert_eq!(run("tail", &["-n", "1", "data/in.txt"]).await.0, "world\n");
    assert_eq!(run("wc", &["-l", "data/in.txt"]).await.0, "2 data/in.txt\n");
    assert_eq!(
        run("wc", &["data/in.txt"]).await.0,
        " 2  2 12 data/in.txt\n"
    );
    assert_eq!(run("ls", &[]).await.0, "data\nempty\nlib.sh\nrun.sh\n");
    assert_eq!(run("ls", &["data"]).await.0, "in.txt\n");
}

#[tokio::test]
async fn env_and_printenv() {
    assert_eq!(
        run("env", &[]).await.0,
        "FOO=bar\nHOME=/root\nPATH=/usr/local/bin:/usr/bin:/bin\n"
    );
    assert_eq!(run("/usr/bin/env", &[]).await.0.lines().count(), 3);
    assert_eq!(run("printenv", &["FOO"]).await, ("bar\n".into(), 0));
    assert_eq!(run("printenv", &["MISSING"]).await, (String::new(), 1));
    assert_eq!(
        run("env", &["A=1", "printenv", "A"]).await,
        ("1\n".into(), 0)
    );
    assert_eq!(
        bash("X=1; env | grep -c X; export Y=2; printenv Y").await.0,
        "2\n"
    );
    assert_eq!(bash("Z=3 printenv Z; echo \"[$Z]\"").await.0, "3\n[]\n");
}

#[tokio::test]
async fn devices_and_yes() {
    let (out, code) = run("head", &["-c", "100000", "/dev/zero"]).await;
    assert_eq!(code, 0);
    assert_eq!(out.len(), 100_000);
    assert!(out.bytes().all(|b| b == 0));
    assert_eq!(bash("yes | head -n 3").await, ("y\ny\ny\n".into(), 0));
    assert_eq!(bash("yes hello | head -n 2").await.0, "hello\nhello\n");
    assert_eq!(bash("head -c 5 < /dev/zero | wc -c").await.0, "5\n");
    assert_eq!(bash("cat /dev/zero | head -c 3 | wc -c").await.0, "3\n");
    assert_eq!(bash("head -c 1000 /dev/urandom | wc -c").await.0, "1000\n");
    assert_eq!(
        bash("set -o pipefail; yes | head -n 1").await,
        ("y\n".into(), 141)
    );
}

#[tokio::test]
async fn gigabyte_of_zeros_streams_in_bounded_memory() {
    let (total, hist, code, max_piece) =
        run_streamed("head", &["-c", "1073741824", "/dev/zero"], 16).await;
    assert_eq!(code, 0);
    assert_eq!(total, 1 << 30);
    assert_eq!(hist[0], 64 << 20);
    assert!(max_piece <= 256 * 1024);
}

#[tokio::test]
async fn ten_million_yes_lines_stream() {
    let (total, hist, code, _) = run_streamed("bash", &["-c", "yes | head -n 10000000"], 16).await;
    assert_eq!(code, 0);
    assert_eq!(total, 20_000_000);
    assert_eq!(hist[b'y' as usize], 10_000_000);
    assert_eq!(hist[b'\n' as usize], 10_000_000);
}

#[tokio::test]
async fn date_formats() {
    let (out, code) = run("date", &["+%Y-%m-%d %H:%M:%S.%3N"]).await;
    assert_eq!(code, 0);
    let b = out.as_bytes();
    assert_eq!(out.len(), 24, "{out:?}");
    assert!(
        b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' && b[19] == b'.' && b[23] == b'\n'
    );
    let (out, _) = run("date", &["-u", "+%s"]).await;
    let secs: i64 = out.trim().parse().unwrap();
    assert!((secs - chrono::Utc::now().timestamp()).abs() < 5);
    let (out, _) = run("date", &["-u"]).await;
    assert!(
        out.ends_with(" UTC 2026\n") || out.contains(" UTC 20"),
        "{out}"
    );
    assert_eq!(out.split(' ').filter(|s| !s.is_empty()).count(), 6, "{out}");
    assert_eq!(
        run("date", &["-u", "-d", "@0", "+%F %T %Z"]).await.0,
        "1970-01-01 00:00:00 UTC\n"
    );
    assert_eq!(
        run("date", &["-u", "-d", "@1795855592", "-R"]).await.0,
        "Sat, 28 Nov 2026 08:46:32 +0000\n"
    );
    assert_eq!(run("date", &["-x"]).await.1, 1);
}

#[tokio::test(start_paused = true)]
async fn sleep_takes_virtual_time() {
    let start = tokio::time::Instant::now();
    assert_eq!(run("sleep", &["1.5"]).await, (String::new(), 0));
    assert_eq!(start.elapsed(), Duration::from_millis(1500));
    assert_eq!(bash("sleep 1m; sleep 0.25s").await.1, 0);
    assert_eq!(start.elapsed(), Duration::from_millis(61_750));
    let (out, code) = run("sleep", &["x"]).await;
    assert_eq!(code, 1);
    assert_eq!(
        out,
        "sleep: invalid time interval 'x'\nTry 'sleep --help' for more information.\n"
    );
}

#[tokio::test(start_paused = true)]
async fn wrappers_time_and_timeout() {
    let start = tokio::time::Instant::now();
    assert_eq!(bash("timeout 2 sleep 10; echo $?").await.0, "124\n");
    assert_eq!(start.elapsed(), Duration::from_secs(2));
    assert_eq!(bash("timeout 5 echo quick; echo $?").await.0, "quick\n0\n");
    assert_eq!(
        bash("time sleep 1.5").await.0,
        "\nreal\t0m1.500s\nuser\t0m0.000s\nsys\t0m0.000s\n"
    );
    assert_eq!(
        bash("nohup echo a; nice -n 5 echo b; stdbuf -oL echo c")
            .await
            .0,
        "a\nb\nc\n"
    );
    assert_eq!(run("/opt/tools/echo", &["abs"]).await.0, "abs\n");
    assert_eq!(run("/usr/local/bin/bash", &["-c", "echo x"]).await.0, "x\n");
}

#[tokio::test]
async fn timeout_stops_busy_commands() {
    // Real time: a busy command never lets paused time advance.
    let script = "x=1; timeout 0.2 bash -c 'x=2; yes > /dev/null'; echo $? $x; timeout 0.1 cat /dev/zero | wc -c > /dev/null; echo done";
    assert_eq!(bash(script).await.0, "124 1\ndone\n");
}

#[tokio::test]
async fn lists_and_status() {
    assert_eq!(bash("echo a; echo b").await.0, "a\nb\n");
    assert_eq!(bash("true && echo yes || echo no").await.0, "yes\n");
    assert_eq!(bash("false && echo yes || echo no").await.0, "no\n");
    assert_eq!(bash("false; echo $?; true; echo $?").await.0, "1\n0\n");
    assert_eq!(bash("echo a; exit 7; echo b").await, ("a\n".into(), 7));
    assert_eq!(bash("false").await.1, 1);
    assert_eq!(bash("! false && echo negated").await.0, "negated\n");
    assert_eq!(bash("\n\n  echo indented\n\n").await.0, "indented\n");
    assert_eq!(bash("# comment\necho after # trailing").await.0, "after\n");
}

#[tokio::test]
async fn variables_and_quoting() {
    assert_eq!(
        bash("x=hello; echo \"$x world\" '$x' ${x}!").await.0,
        "hello world $x hello!\n"
    );
    assert_eq!(
        bash("echo $FOO ${FOO:-d} ${NOPE:-d} ${#FOO}").await.0,
        "bar bar d 3\n"
    );
    assert_eq!(bash("echo \"$0|$1|$2|$#|$*|$@\"").await.0, "bash|||0||\n");
    assert_eq!(
        run("bash", &["-c", "echo $0 $1 $2 $#", "name", "a", "b c"])
            .await
            .0,
        "name a b c 2\n"
    );
    assert_eq!(
        run(
            "bash",
            &[
                "-c",
                "for a in \"$@\"; do echo \"[$a]\"; done",
                "n",
                "x y",
                "z"
            ]
        )
        .await
        .0,
        "[x y]\n[z]\n"
    );
    assert_eq!(
        bash("v='a  b'; for w in $v; do echo $w; done; echo \"$v\"")
            .await
            .0,
        "a\nb\na  b\n"
    );
    assert_eq!(
        bash("x=a.b.c; echo ${x#*.} ${x##*.} ${x%.*} ${x%%.*} ${x/./-} ${x//./-}")
            .await
            .0,
        "b.c c a.b a a-b.c a-b-c\n"
    );
    assert_eq!(
        bash("x=hello; echo ${x:1:3} ${x: -2} ${x^^} ${x^}").await.0,
        "ell lo HELLO Hello\n"
    );
    assert_eq!(
        bash("echo ${u:=set}; echo $u; echo ${u:+alt}").await.0,
        "set\nset\nalt\n"
    );
    assert_eq!(
        bash("echo \"a\\\"b\" 'c\"d' $'e\\tf'").await.0,
        "a\"b c\"d e\tf\n"
    );
    assert_eq!(bash("echo ~ ~/x").await.0, "/root /root/x\n");
    assert_eq!(bash("echo {1..3} a{b,c}").await.0, "1 2 3 ab ac\n");
    assert_eq!(bash("e=; echo [$e] [\"$e\"]").await.0, "[] []\n");
    assert_eq!(bash("set -- a b c; shift; echo $@ $#").await.0, "b c 2\n");
}

#[tokio::test]
async fn command_substitution_and_arith() {
    assert_eq!(
        bash("x=$(echo hi; echo there); echo \"$x\"").await.0,
        "hi\nthere\n"
    );
    assert_eq!(bash("echo $(printf 'a\\n\\n\\n')end").await.0, "aend\n");
    assert_eq!(bash("echo `echo back`").await.0, "back\n");
    assert_eq!(bash("x=$(false); echo $?").await.0, "1\n");
    assert_eq!(bash("x=$(exit 4); echo $?").await.0, "4\n");
    assert_eq!(bash("x=$(echo out; echo err >&2)").await.0, "err\n");
    assert_eq!(bash("y=1; x=$(y=2; echo $y); echo $x $y").await.0, "2 1\n");
    assert_eq!(
        bash("i=5; echo $((i * 2 + 1)) $((i++)) $i $(( (3+4) % 4 )) $((2**10))")
            .await
            .0,
        "11 5 6 3 1024\n"
    );
    assert_eq!(
        bash("i=0; while [ $i -lt 3 ]; do i=$((i+1)); echo $i; done")
            .await
            .0,
        "1\n2\n3\n"
    );
    assert_eq!(
        bash("for ((i=0; i<3; i++)); do echo -n $i; done; echo")
            .await
            .0,
        "012\n"
    );
    assert_eq!(bash("(( 3 > 2 )) && echo bigger").await.0, "bigger\n");
    assert_eq!(bash("let x=2*3; echo $x").await.0, "6\n");
    let (out, code) = bash("echo $((1/0)); echo after").await;
    assert_eq!(code, 1);
    assert!(out.starts_with("bash: line 1: 1/0: division by 0"), "{out}");
}

#[tokio::test]
async fn loops_and_conditionals() {
    assert_eq!(
        bash("for i in $(seq 1 5); do echo $i; done").await.0,
        "1\n2\n3\n4\n5\n"
    );
    assert_eq!(
        bash("for i in 1 2 3; do if [ $i = 2 ]; then continue; fi; echo $i; done")
            .await
            .0,
        "1\n3\n"
    );
    assert_eq!(
        bash("for i in 1 2 3; do [ $i = 2 ] && break; echo $i; done")
            .await
            .0,
        "1\n"
    );
    assert_eq!(
        bash("x=5; if [ $x -gt 10 ]; then echo big; elif [ $x -gt 3 ]; then echo mid; else echo small; fi").await.0,
        "mid\n"
    );
    assert_eq!(
        bash("if [[ $FOO == b* && -n $FOO ]]; then echo match; fi")
            .await
            .0,
        "match\n"
    );
    assert_eq!(
        bash("[ -f data/in.txt ] && [ -d data ] && [ ! -e nope ] && echo files")
            .await
            .0,
        "files\n"
    );
    assert_eq!(bash("test 1 -eq 1 -a 2 -ne 3 && echo t").await.0, "t\n");
    assert_eq!(
        bash("for f in a.py b.sh c; do case $f in *.py) echo py;; *.sh|*.bash) echo sh;; *) echo other;; esac; done").await.0,
        "py\nsh\nother\n"
    );
    assert_eq!(
        bash("n=0; until [ $n -ge 2 ]; do n=$((n+1)); done; echo $n")
            .await
            .0,
        "2\n"
    );
    assert_eq!(
        bash("f() { echo \"f:$1:$#\"; return 3; }; f a b; echo $?")
            .await
            .0,
        "f:a:2\n3\n"
    );
    assert_eq!(
        bash("f() { local v=in; echo $v; }; v=out; f; echo $v")
            .await
            .0,
        "in\nout\n"
    );
    assert_eq!(bash("{ echo a; echo b; } | wc -l").await.0, "2\n");
    assert_eq!(
        bash("(x=1; exit 3); echo $? ${x:-unset}").await.0,
        "3 unset\n"
    );
}

#[tokio::test]
async fn pipelines_and_redirections() {
    assert_eq!(bash("echo hello | cat").await.0, "hello\n");
    assert_eq!(bash("seq 10 | wc -l").await.0, "10\n");
    assert_eq!(bash("seq 100 | head -n 3").await.0, "1\n2\n3\n");
    assert_eq!(bash("seq 5 | tail -n 2").await.0, "4\n5\n");
    assert_eq!(bash("seq 3 | wc").await.0, "      3       3       6\n");
    assert_eq!(bash("seq 20 | head -n 5 | tail -n 1").await.0, "5\n");
    assert_eq!(
        bash("printf 'a\\nb\\n' | while read l; do echo \"[$l]\"; done")
            .await
            .0,
        "[a]\n[b]\n"
    );
    assert_eq!(
        bash("while read a b; do echo \"$b-$a\"; done < data/in.txt")
            .await
            .0,
        "-hello\n-world\n"
    );
    assert_eq!(
        bash("echo hi > out.txt; echo more >> out.txt; cat out.txt; cat /work/out.txt | wc -l")
            .await
            .0,
        "hi\nmore\n2\n"
    );
    assert_eq!(
        bash("cat missing 2>/dev/null || echo fallback").await.0,
        "fallback\n"
    );
    assert_eq!(
        bash("echo to-null > /dev/null; echo err >&2").await.0,
        "err\n"
    );
    assert_eq!(
        bash("cat <<EOF\nhello $FOO\n  two\nEOF").await.0,
        "hello bar\n  two\n"
    );
    assert_eq!(bash("cat <<'EOF'\n$FOO\nEOF").await.0, "$FOO\n");
    assert_eq!(bash("cat <<< \"here $FOO\"").await.0, "here bar\n");
    assert_eq!(
        bash("x=$(cat data/in.txt | head -n 1); echo $x").await.0,
        "hello\n"
    );
    assert_eq!(
        bash("mkdir -p out/sub && echo x > out/sub/f && ls out && cat out/sub/f")
            .await
            .0,
        "sub\nx\n"
    );
    assert_eq!(
        bash("echo x > nodir/f").await,
        (
            "bash: line 1: nodir/f: No such file or directory\n".into(),
            1
        )
    );
    assert_eq!(
        bash("cd data && pwd && cat in.txt | head -1; cd /nope")
            .await
            .0,
        "/work/data\nhello\nbash: line 1: cd: /nope: No such file or directory\n"
    );
}

#[tokio::test]
async fn scripts_shells_and_sourcing() {
    assert_eq!(run("/bin/sh", &["-c", "echo sh"]).await.0, "sh\n");
    assert_eq!(
        run("bash", &["run.sh", "arg"]).await,
        ("from script arg\n".into(), 5)
    );
    assert_eq!(run("./run.sh", &["x"]).await, ("from script x\n".into(), 5));
    assert_eq!(
        bash("source lib.sh; greet you; echo $LOADED").await.0,
        "hi you\nyes\n"
    );
    assert_eq!(
        bash("bash -c 'echo inner; exit 4'; echo outer $?").await.0,
        "inner\nouter 4\n"
    );
    assert_eq!(
        bash("X=1; bash -c 'echo [$X]'; export X; bash -c 'echo [$X]'")
            .await
            .0,
        "[]\n[1]\n"
    );
    assert_eq!(bash("eval 'echo ev; x=2'; echo $x").await.0, "ev\n2\n");
    assert_eq!(bash("trap 'echo bye' EXIT; echo hi").await.0, "hi\nbye\n");
    assert_eq!(
        run("bash", &["-ec", "false; echo no"]).await,
        (String::new(), 1)
    );
    assert_eq!(bash("set -e; false || true; echo yes").await.0, "yes\n");
    assert_eq!(
        bash("set -e; if false; then :; fi; echo ok").await.0,
        "ok\n"
    );
    assert_eq!(bash("set -x; echo 'a b'").await.0, "+ echo 'a b'\na b\n");
    let (out, code) = bash("set -u; echo $NOPE; echo after").await;
    assert_eq!(
        (out.as_str(), code),
        ("bash: line 1: NOPE: unbound variable\n", 127)
    );
    assert_eq!(
        bash("command -v echo; which python; which nosuch || echo none")
            .await
            .0,
        "echo\n/usr/bin/python\nnone\n"
    );
    assert_eq!(
        bash("basename /a/b/c.txt .txt; dirname /a/b/c.txt").await.0,
        "c\n/a/b\n"
    );
}

#[tokio::test]
async fn errors_and_unsupported() {
    let (out, code) = bash("echo a\nif true; then").await;
    assert_eq!(code, 2);
    assert!(out.starts_with("bash: -c: line "), "{out}");
    assert!(out.contains("syntax error"), "{out}");
    let (out, code) = bash("echo before; sleep 1 &").await;
    assert_eq!(code, 2);
    assert_eq!(
        out,
        "before\nbash: line 1: background jobs (&): not supported by joblet-mock\n"
    );
    let (out, code) = bash("echo ok\narr=(1 2 3)").await;
    assert_eq!(code, 2);
    assert_eq!(
        out,
        "ok\nbash: line 2: arrays: not supported by joblet-mock\n"
    );
    assert_eq!(
        bash("if false; then arr=(1); fi; echo fine").await,
        ("fine\n".into(), 0)
    );
    let (out, code) = bash("f() { f; }; f").await;
    assert_eq!(code, 2);
    assert!(out.contains("maximum nesting depth"), "{out}");
    let (out, code) = run("bash", &["-c"]).await;
    assert_eq!(
        (out.as_str(), code),
        ("bash: -c: option requires an argument\n", 2)
    );
    let (out, code) = bash("x=${y:?is missing}; echo no").await;
    assert_eq!((out.as_str(), code), ("bash: line 1: y: is missing\n", 127));
    assert_eq!(
        bash("cat nofile; echo $?").await.0,
        "cat: nofile: No such file or directory\n1\n"
    );
    assert_eq!(bash("printenv NOPE; echo $?").await.0, "1\n");
}

#[tokio::test]
async fn unknown_commands() {
    assert_eq!(run("python", &["app.py"]).await, (String::new(), 0));
    let fail = Simulator::new(Vec::new(), UnknownCommand::Fail);
    assert_eq!(
        run_with(&fail, "python", &["app.py"]).await,
        ("python: command not found\n".into(), 127)
    );
    assert_eq!(
        bash_fail("python x.py; echo $?").await.0,
        "bash: line 1: python: command not found\n127\n"
    );
    assert_eq!(bash("nosuch && echo ran-anyway").await.0, "ran-anyway\n");
}

#[tokio::test(start_paused = true)]
async fn scenarios_play() {
    let start = tokio::time::Instant::now();
    let (out, code) = run("python", &["extract.py"]).await;
    assert_eq!(code, 3);
    let filler = format!("{x}\n{x}\nx\n", x = "x".repeat(63));
    assert_eq!(out, format!("extracting...\n{filler}done\n"));
    assert_eq!(out.len(), "extracting...\n".len() + 130 + "done\n".len());
    assert_eq!(start.elapsed(), Duration::from_millis(500));
    let (out, code) = run("/usr/bin/node", &["server.js", "--port", "80"]).await;
    assert_eq!(
        (out.as_str(), code),
        ("req 1\nreq 2\nreq 3\nhello\nworld\n", 0)
    );
    assert_eq!(
        bash("python extract.py > /dev/null; echo $?").await.0,
        "3\n"
    );
    assert_eq!(bash("node server.js | head -n 1").await.0, "req 1\n");
    // Not matching: the args differ.
    assert_eq!(
        run("python", &["extract.py", "extra"]).await,
        (String::new(), 0)
    );
}

/// The Python SDK's streaming example: 601 lines, streamed live.
#[tokio::test(start_paused = true)]
async fn sdk_streaming_example() {
    let script = "\n    for i in $(seq 1 600); do\n        echo \"Counter: $i - Time: $(date +%H:%M:%S.%3N)\"\n        sleep 0.1\n    done\n    echo \"Completed 60 seconds of counting!\"\n    ";
    let (mut w, mut reader) = pipe(16);
    let start = tokio::time::Instant::now();
    let reading = tokio::spawn(async move {
        let mut lines: Vec<(String, Duration)> = Vec::new();
        let mut partial = String::new();
        while let Some(b) = reader.next().await {
            let at = start.elapsed();
            partial.push_str(&String::from_utf8_lossy(&b));
            while let Some(pos) = partial.find('\n') {
                let line: String = partial.drain(..=pos).collect();
                lines.push((line.trim_end().to_owned(), at));
            }
        }
        lines
    });
    let sim = Simulator::default();
    let code = sim
        .run(
            "bash",
            &["-c".to_owned(), script.to_owned()],
            &ctx(),
            &mut w,
        )
        .await;
    drop(w);
    let lines = reading.await.unwrap();
    assert_eq!(code, 0);
    assert_eq!(lines.len(), 601);
    for (i, (line, at)) in lines.iter().take(600).enumerate() {
        let prefix = format!("Counter: {} - Time: ", i + 1);
        assert!(line.starts_with(&prefix), "{line}");
        let t = &line[prefix.len()..];
        let b = t.as_bytes();
        assert_eq!(t.len(), 12, "{line}");
        assert!(
            b[2] == b':'
                && b[5] == b':'
                && b[8] == b'.'
                && t.chars().filter(char::is_ascii_digit).count() == 9,
            "{line}"
        );
        // Produced at i * 100 ms; seen within 100 ms.
        let produced = Duration::from_millis(100 * i as u64);
        assert!(
            *at >= produced && *at < produced + Duration::from_millis(100),
            "line {i} at {at:?}"
        );
    }
    assert_eq!(lines[600].0, "Completed 60 seconds of counting!");
    assert_eq!(start.elapsed(), Duration::from_secs(60));
}

/// Output of a busy script (no sleeps) still streams while it runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_scripts_stream() {
    let (mut w, mut reader) = pipe(16);
    let ended = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = Arc::clone(&ended);
    let first = tokio::spawn(async move {
        let piece = reader.next().await;
        let ended = watcher.load(std::sync::atomic::Ordering::SeqCst);
        // The reader stays open until the job ends (dropping it would close the pipe).
        (piece, ended, reader)
    });
    let sim = Simulator::default();
    let script = "echo start; i=0; while [ $i -lt 30000 ]; do i=$((i+1)); done; echo end";
    let started = std::time::Instant::now();
    let code = sim
        .run(
            "bash",
            &["-c".to_owned(), script.to_owned()],
            &ctx(),
            &mut w,
        )
        .await;
    let took = started.elapsed();
    ended.store(true, std::sync::atomic::Ordering::SeqCst);
    drop(w);
    let (piece, closed_then, _reader) = first.await.unwrap();
    assert_eq!(code, 0);
    assert_eq!(piece.as_deref(), Some(&b"start\n"[..]));
    if took > Duration::from_millis(200) {
        assert!(
            !closed_then,
            "`start` was only seen after the job ended ({took:?})"
        );
    }
}

#[tokio::test]
async fn cancel_safe() {
    // A pipe nobody reads: writers block once it is full.
    let (mut w, _reader) = pipe(1);
    let sim = Simulator::default();
    let c = ctx();
    for (cmd, args) in [
        ("sleep", vec!["1000"]),
        ("yes", vec![]),
        ("bash", vec!["-c", "while true; do :; done"]),
        ("bash", vec!["-c", "yes > /dev/null"]),
        ("cat", vec!["/dev/zero"]),
    ] {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let r =
            tokio::time::timeout(Duration::from_millis(50), sim.run(cmd, &args, &c, &mut w)).await;
        assert!(r.is_err(), "{cmd} should still run");
    }
}

#[test]
fn run_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let sim = Simulator::default();
    let c = ctx();
    let mut w = Collect::default();
    let args = Vec::new();
    let fut = sim.run("echo", &args, &c, &mut w);
    assert_send(&fut);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// `echo w1; echo w2; …` prints the words, one per line.
    #[test]
    fn echo_sequences(words in proptest::collection::vec("[a-zA-Z0-9_.,:+][a-zA-Z0-9_.,:+-]{0,11}", 1..8)) {
        let script = words.iter().map(|w| format!("echo {w}")).collect::<Vec<_>>().join("; ");
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let (out, code) = rt.block_on(bash(&script));
        let want: String = words.iter().map(|w| format!("{w}\n")).collect();
        prop_assert_eq!(code, 0);
        prop_assert_eq!(out, want);
    }

    /// Quoted words survive as they are.
    #[test]
    fn quoted_words(words in proptest::collection::vec("[ a-zA-Z0-9_.$`\"\\\\*?-]{0,10}", 1..5)) {
        let quote = |w: &str| format!("'{}'", w.replace('\'', "'\\''"));
        let script = format!("printf '%s\\n' {}", words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" "));
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let (out, _) = rt.block_on(bash(&script));
        let want: String = words.iter().map(|w| format!("{w}\n")).collect();
        prop_assert_eq!(out, want);
    }

    /// Arbitrary scripts never panic (no `e`, `s`, `y`: no sleeps or endless `yes`).
    #[test]
    fn arbitrary_scripts_never_panic(src in "[a-dfghijklmnopqrtuvwxz0-9 $;|&(){}\\[\\]\"'<>=!*?#\n\\\\.,:+-]{0,60}") {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let r = rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(20), bash(&src)).await
        });
        prop_assert!(r.is_ok(), "timed out on {:?}", src);
    }
}
