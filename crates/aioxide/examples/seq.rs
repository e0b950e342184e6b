//! Sequential GETs with the engine alone: `cargo run --release --example seq -- URL N`.
use std::time::Instant;

fn cpu() -> f64 {
    let mut ru: libc_rusage = unsafe { std::mem::zeroed() };
    unsafe { getrusage(0, &mut ru) };
    ru.ru_utime.0 as f64 + ru.ru_utime.1 as f64 / 1e6 + ru.ru_stime.0 as f64 + ru.ru_stime.1 as f64 / 1e6
}
#[repr(C)]
struct libc_rusage { ru_utime: (i64, i64), ru_stime: (i64, i64), rest: [i64; 14] }
extern "C" { fn getrusage(who: i32, r: *mut libc_rusage) -> i32; }

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let url = args.get(1).cloned().unwrap_or_else(|| "http://127.0.0.1:18080/small".into());
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(5000);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let client = aioxide::Client::default();
        for _ in 0..200 {
            let mut r = client.execute(aioxide::Request::get(&url)).await.unwrap();
            r.body.read_to_end().await.unwrap();
        }
        let (c0, t0) = (cpu(), Instant::now());
        for _ in 0..n {
            let mut r = client.execute(aioxide::Request::get(&url)).await.unwrap();
            r.body.read_to_end().await.unwrap();
        }
        let (c1, dt) = (cpu(), t0.elapsed().as_secs_f64());
        println!("seq: {:.0} req/s, {:.1} us CPU/req", n as f64 / dt, (c1 - c0) / n as f64 * 1e6);
    });
}
