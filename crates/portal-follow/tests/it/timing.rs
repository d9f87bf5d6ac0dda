//! The follower's clock rules in virtual time: backoff and its cap, the poll jitter,
//! `unreachable`, `silent`, push wakes and WebSub leases.

use std::time::Duration;

use portal_follow::{Action, Event, FailureReason, FetchFailure, Follower, Jitter};
use portal_proto::Rejection;

use crate::sim::{Shell, T0, at, count, descriptor, key, pages, sleep};

/// Seconds from `now` to the end of the round's sleep.
fn wait(actions: &[Action], now: Duration) -> f64 {
    (sleep(actions) - now).as_secs_f64()
}

/// A member with one item and a fresh checkpoint.
fn healthy(seed: u8) -> Shell {
    let k = key(seed);
    let mut shell = Shell::new("bo-y-te", &k);
    shell.log.publish(&k, "Thông báo");
    shell.sign(0, &k);
    shell
}

#[test]
fn backoff_doubles_from_an_eighth_of_the_poll_interval_up_to_the_cap_and_resets() {
    let mut shell = healthy(1);
    shell.down = true;
    let mut f = shell.follower(shell.config()); // poll 60 s, cap 900 s
    let mut now = at(0);
    let mut waits = Vec::new();
    for _ in 0..9 {
        let round = shell.round(&mut f, now);
        waits.push(wait(&round, now));
        now = sleep(&round);
    }
    // 60 / 8 = 7.5 s, doubled from the first failure on, capped at 900 s.
    assert_eq!(waits, [15.0, 30.0, 60.0, 120.0, 240.0, 480.0, 900.0, 900.0, 900.0]);
    assert_eq!(shell.health.failures, 9);

    // The member answers again: the poll interval, and the schedule starts over.
    shell.down = false;
    shell.sign(now.as_secs() - T0, &key(1));
    let round = shell.round(&mut f, now);
    assert_eq!(wait(&round, now), 60.0);
    assert_eq!((shell.health.failures, shell.health.last_error.as_deref()), (0, None));
    now = sleep(&round);
    shell.down = true;
    let round = shell.round(&mut f, now);
    assert_eq!(wait(&round, now), 15.0);
}

#[test]
fn backoff_has_a_half_second_floor_a_cap_of_at_least_the_poll_interval_and_bounded_jitter() {
    let mut config = Shell::new("bo-y-te", &key(1)).config();
    config.poll_seconds = 1;
    config.max_backoff_seconds = 5;
    // 1 s / 8 is below the 0.5 s floor.
    let delays: Vec<f64> = (1..=5).map(|n| config.backoff_delay(n, 1.0).as_secs_f64()).collect();
    assert_eq!(delays, [1.0, 2.0, 4.0, 5.0, 5.0]);
    // Jitter scales before the cap: ±20 %.
    assert_eq!(config.backoff_delay(2, 0.8), Duration::from_millis(1600));
    assert_eq!(config.backoff_delay(2, 1.2), Duration::from_millis(2400));
    assert_eq!(config.backoff_delay(3, 1.2), Duration::from_millis(4800));
    assert_eq!(config.backoff_delay(4, 0.8), Duration::from_secs(5), "6.4 s, capped");
    // A cap below the poll interval is raised to it; doublings stop after 16 failures.
    config.poll_seconds = 60;
    config.max_backoff_seconds = 10;
    assert_eq!(config.max_backoff(), Duration::from_secs(60));
    config.max_backoff_seconds = u64::MAX / 4;
    assert_eq!(config.backoff_delay(40, 1.0), config.backoff_delay(16, 1.0));
    assert_eq!(config.backoff_delay(16, 1.0), Duration::from_millis(7500) * 65_536);
    // Zero failures count as one.
    assert_eq!(config.backoff_delay(0, 1.0), Duration::from_secs(15));
}

#[test]
fn seeded_jitter_keeps_every_poll_within_twenty_percent_and_varies() {
    let mut shell = healthy(1);
    let mut f = Follower::new(
        shell.config(),
        shell.member.clone(),
        shell.direct.clone(),
        Jitter::Seeded(7),
    );
    assert_eq!(f.poll_action(), Some(Action::SleepUntil(Duration::ZERO)));
    let mut now = at(0);
    let mut waits = Vec::new();
    for _ in 0..40 {
        let round = shell.round(&mut f, now);
        waits.push(wait(&round, now));
        now = sleep(&round);
        shell.sign(now.as_secs() - T0, &key(1));
    }
    assert!(waits.iter().all(|w| (48.0..72.0).contains(w)), "{waits:?}");
    let (min, max) = waits.iter().fold((f64::MAX, 0f64), |(a, b), w| (a.min(*w), b.max(*w)));
    assert!(max - min > 10.0, "the jitter spreads the polls: {waits:?}");
    assert!(shell.incidents.is_empty(), "{:?}", shell.incidents);
}

#[test]
fn unreachable_is_raised_once_after_the_configured_seconds_and_again_in_a_new_episode() {
    let mut shell = healthy(1);
    shell.down = true;
    let mut config = shell.config();
    config.unreachable_after_seconds = 105;
    let mut f = shell.follower(config);
    // Failures at 0, 15, 45 and 105 s: the fourth is the first 105 s (exactly) after the
    // episode began.
    let mut now = at(0);
    for expected in [0, 0, 0, 1, 1, 1] {
        let round = shell.round(&mut f, now);
        assert_eq!(shell.incidents.len(), expected, "at {} s", now.as_secs() - T0);
        now = sleep(&round);
    }
    let incident = &shell.incidents[0];
    assert_eq!(incident.code, "unreachable");
    let error = "https://bo-y-te.example.gov.vn/.well-known/portal-node: connection refused";
    assert_eq!(incident.message, format!("unreachable for 105 s or more: {error}"));
    assert_eq!(incident.evidence["since"], T0);
    assert_eq!(incident.evidence["url"], "https://bo-y-te.example.gov.vn");
    assert_eq!(shell.health.last_error.as_deref(), Some(error));

    // It answers, then fails again: a new episode, counted from its own first failure.
    shell.down = false;
    shell.sign(now.as_secs() - T0, &key(1));
    now = sleep(&shell.round(&mut f, now));
    shell.down = true;
    let episode = now.as_secs();
    for _ in 0..4 {
        now = sleep(&shell.round(&mut f, now));
    }
    assert_eq!(shell.codes(), ["unreachable", "unreachable"]);
    assert_eq!(shell.incidents[1].evidence["since"], episode);
}

#[test]
fn refused_too_large_and_malformed_answers_are_incidents_at_once_but_a_5xx_is_not() {
    let url = "https://bo-y-te.example.gov.vn/api/v1/log?after=0&limit=500";
    let cases = [
        (FailureReason::Refused, Some("refused")),
        (FailureReason::TooLarge, Some("too-large")),
        (FailureReason::Rejected(Rejection::Malformed("not JSON".into())), Some("malformed")),
        (FailureReason::HttpStatus(503), None),
        (FailureReason::Timeout, None),
    ];
    for (reason, code) in cases {
        let mut shell = healthy(1);
        shell.fail_page = Some(FetchFailure::new(reason.clone(), url, format!("{url}: failed")));
        let mut f = shell.follower(shell.config());
        shell.round(&mut f, at(0));
        assert_eq!(shell.codes(), code.into_iter().collect::<Vec<_>>(), "{reason:?}");
        if let Some(code) = code {
            assert_eq!(shell.incidents[0].evidence["url"], url);
            let error = shell.health.last_error.clone().unwrap_or_default();
            assert_eq!(error, format!("{code}: {url}: failed"));
        }
        assert_eq!(shell.health.failures, 1);
    }
}

#[test]
fn silent_is_raised_once_past_twice_the_heartbeat_and_again_after_a_fresh_checkpoint() {
    let k = key(1);
    let mut shell = healthy(1);
    let grants = shell.member.keys.clone();
    shell.descriptor = descriptor(&shell.log.origin, grants, 600, (false, false), &k);
    let mut f = shell.follower(shell.config());
    // The member keeps serving its checkpoint of T0: silent once it is more than 1200 s old.
    for (t, silent) in [(0, 0), (1200, 0), (1201, 1), (1300, 1), (5000, 1)] {
        shell.round(&mut f, at(t));
        assert_eq!(shell.incidents.len(), silent, "at {t} s");
    }
    let incident = &shell.incidents[0];
    assert_eq!(incident.code, "silent");
    assert_eq!(
        incident.message,
        "its newest checkpoint is 1201 s old; it declares a heartbeat of 600 s"
    );
    assert_eq!(
        (incident.evidence["checkpoint_time"].as_u64(), incident.evidence["heartbeat"].as_u64()),
        (Some(T0), Some(600))
    );
    // Silence is not a failure: the rounds succeed.
    assert_eq!(shell.health.failures, 0);

    // A fresh checkpoint ends the silence; the next one is reported again.
    shell.sign(5100, &k);
    shell.round(&mut f, at(5100));
    shell.round(&mut f, at(6300));
    assert_eq!(shell.incidents.len(), 1);
    shell.round(&mut f, at(6301));
    assert_eq!(shell.codes(), ["silent", "silent"]);
}

#[test]
fn a_push_wakes_an_idle_follower_at_once_and_a_wake_during_a_round_shortens_the_next_sleep() {
    let k = key(1);
    let mut shell = healthy(1);
    let mut f = shell.follower(shell.config());
    assert_eq!(sleep(&shell.round(&mut f, at(0))), at(60));

    // Woken at 5 s: the round runs then, and the next poll is 60 s after it.
    shell.log.publish(&k, "Tin mới");
    shell.sign(5, &k);
    let round = shell.round_with(&mut f, at(5), Event::Wake);
    assert_eq!((pages(&round), sleep(&round)), (vec![(1, false)], at(65)));
    assert_eq!(shell.stored.len(), 2);

    // A push arriving while a round runs: that round ends with no sleep, the next one as usual.
    f.handle(at(65), Event::Tick).expect("idle");
    let page = shell.until(&mut f, at(65), |a| matches!(a, Action::FetchLogPage { .. }));
    f.handle(at(65), Event::Wake).expect("a wake is welcome during a round");
    let answer = shell.perform(at(65), page).expect("a page answers");
    f.handle(at(65), answer).expect("the page");
    assert_eq!(sleep(&shell.drain(&mut f, at(65))), at(65));
    assert_eq!(sleep(&shell.round(&mut f, at(65))), at(125));

    // A round that goes straight on keeps the wake for the first real sleep.
    let mut config = shell.config();
    config.page_size = 1;
    let mut f = shell.follower(config);
    shell.stored.clear();
    shell.stored_note = None;
    f.handle(at(200), Event::Tick).expect("idle");
    let page = shell.until(&mut f, at(200), |a| matches!(a, Action::FetchLogPage { .. }));
    f.handle(at(200), Event::Wake).expect("welcome");
    let answer = shell.perform(at(200), page).expect("a page answers");
    f.handle(at(200), answer).expect("the page");
    assert_eq!(sleep(&shell.drain(&mut f, at(200))), at(200), "more to read");
    assert_eq!(sleep(&shell.round(&mut f, at(200))), at(200), "the log's end, woken");
    assert_eq!(sleep(&shell.round(&mut f, at(200))), at(260));
}

#[test]
fn push_subscribes_before_reading_and_renews_only_when_the_lease_ends_within_an_hour() {
    let k = key(1);
    let mut shell = healthy(1);
    let grants = shell.member.keys.clone();
    shell.descriptor = descriptor(&shell.log.origin, grants.clone(), 100_000, (true, false), &k);
    let mut f = shell.follower(shell.config());
    let round = shell.round(&mut f, at(0));
    let subscribe = round.iter().position(|a| matches!(a, Action::Subscribe { .. }));
    let read = round.iter().position(|a| matches!(a, Action::FetchLogPage { .. }));
    assert!(subscribe.is_some() && subscribe < read, "{round:?}");
    let expected = Action::Subscribe {
        hub: "https://bo-y-te.example.gov.vn/websub".into(),
        topic: "https://bo-y-te.example.gov.vn/api/v1/log".into(),
        lease_seconds: 86_400,
    };
    assert_eq!(round[subscribe.unwrap_or_default()], expected);
    assert_eq!(shell.health.push_lease_until, Some(T0 + 86_400));

    for (t, subscriptions) in [(60, 1), (82_799, 1), (82_800, 2), (82_900, 2)] {
        shell.sign(t, &k);
        shell.round(&mut f, at(t));
        assert_eq!(shell.subscriptions, subscriptions, "at {t} s");
    }
    assert_eq!(shell.health.push_lease_until, Some(T0 + 82_800 + 86_400));

    // A hub that refuses is asked again next round; with push off, never.
    let mut shell = healthy(1);
    shell.descriptor = descriptor(&shell.log.origin, grants.clone(), 100_000, (true, false), &k);
    shell.hub_accepts = false;
    let mut f = shell.follower(shell.config());
    shell.round(&mut f, at(0));
    shell.round(&mut f, at(60));
    assert_eq!((shell.subscriptions, shell.health.push_lease_until), (2, None));
    let mut config = shell.config();
    config.push = false;
    let mut f = shell.follower(config);
    let round = shell.round(&mut f, at(120));
    assert_eq!(count(&round, |a| matches!(a, Action::Subscribe { .. })), 0);
    assert_eq!(shell.subscriptions, 2);
}
