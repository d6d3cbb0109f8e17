//! Issue 10.5 in the TUI: when the UserSig expires, a termim that signs its own renews
//! it without a word; one that was given a sig says so, tells how to get a new one and
//! takes a pasted one. Reducer tests and insta snapshots (frozen clock, `tui_support`).

mod tui_support;

use crossterm::event::KeyCode;
use termim::tui::effect::{Effect, EffectResult, SdkError};
use termim::tui::{Action, App, Overlay, SdkEvent, update};
use tui_support::*;

fn expired_prompt(w: u16, h: u16) -> App {
    let mut app = sized(team_open(w, h), w, h);
    let effects = app.apply_event(SdkEvent::UserSigExpired);
    assert!(effects.is_empty(), "nothing to do but ask: {effects:?}");
    app
}

fn prompt_open(app: &App) -> bool {
    matches!(app.overlay, Some(Overlay::UserSig(_)))
}

#[test]
fn a_termim_that_signs_its_own_renews_without_asking() {
    let mut app = workspace();
    app.can_sign = true;
    let effects = app.apply_event(SdkEvent::UserSigExpired);
    assert_eq!(effects, vec![Effect::RenewUserSig { user_sig: None }]);
    assert!(!prompt_open(&app));
    assert!(app.sig_expired);
    app.apply_result(EffectResult::UserSigRenewed { error: None });
    assert!(!app.sig_expired);
    assert_eq!(
        app.visible_status().map(|s| s.text.as_str()),
        Some("UserSig renewed")
    );
    // Signing failed (the key is gone): a person is asked, with the reason.
    app.apply_event(SdkEvent::UserSigExpired);
    app.apply_result(EffectResult::UserSigRenewed {
        error: Some(SdkError::new(70001, "no app key in /x")),
    });
    assert!(prompt_open(&app));
    let screen = render(&app, 80, 24);
    assert!(screen.contains("Not renewed"), "{screen}");
}

#[test]
fn a_pasted_sig_renews_and_closes_the_prompt() {
    let mut app = expired_prompt(80, 24);
    assert!(prompt_open(&app));
    // Enter with nothing pasted asks for one.
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    assert!(screen(&app).contains("Paste a UserSig first"));
    // A paste keeps one line and drops the white space around it.
    update(&mut app, Action::Paste("  eJwtzM0K\n".into()));
    let effects = key(&mut app, KeyCode::Enter);
    assert_eq!(
        effects,
        vec![Effect::RenewUserSig {
            user_sig: Some("eJwtzM0K".into())
        }]
    );
    // While it is on its way, Enter does not send it twice.
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    // Refused: the prompt stays, saying why; typing clears the notice.
    app.apply_result(EffectResult::UserSigRenewed {
        error: Some(SdkError::new(70013, "UserSig was issued for user \"bob\"")),
    });
    assert!(prompt_open(&app));
    insta::assert_snapshot!("sig_prompt_refused", screen(&app));
    typing(&mut app, "x");
    let effects = key(&mut app, KeyCode::Enter);
    assert_eq!(
        effects,
        vec![Effect::RenewUserSig {
            user_sig: Some("eJwtzM0Kx".into())
        }]
    );
    app.apply_result(EffectResult::UserSigRenewed { error: None });
    assert!(!prompt_open(&app));
    assert!(!app.sig_expired);
    assert!(!screen(&app).contains("UserSig expired"));
}

#[test]
fn the_prompt_says_how_to_get_a_sig() {
    let app = expired_prompt(80, 24);
    insta::assert_snapshot!("sig_prompt", screen(&app));
    insta::assert_snapshot!("sig_prompt_40x12", render(&sized(app, 40, 12), 40, 12));
}

#[test]
fn closed_without_a_sig_the_status_bar_keeps_saying_so_and_a_key_reopens_it() {
    let mut app = expired_prompt(80, 24);
    key(&mut app, KeyCode::Esc);
    assert!(!prompt_open(&app));
    insta::assert_snapshot!("sig_expired_prompt_closed", screen(&app));
    // The help bar offers the key (from the keymap) only while the sig has expired.
    let bar = screen(&app);
    let last = bar.lines().last().unwrap_or_default();
    assert!(last.contains("Alt-s new UserSig"), "{last}");
    alt(&mut app, 's');
    assert!(prompt_open(&app));
    key(&mut app, KeyCode::Esc);
    app.apply_result(EffectResult::UserSigRenewed { error: None });
    let fine = screen(&app);
    assert!(!fine.contains("new UserSig"), "{fine}");
    alt(&mut app, 's');
    assert!(!prompt_open(&app), "nothing to renew");
}
