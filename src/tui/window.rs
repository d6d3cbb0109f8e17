//! A conversation's loaded slice of history and how it is scrolled.
//!
//! The pane is anchored at the bottom: `scroll == None` follows the newest message;
//! `Some(Anchor)` pins the bottom row of the view to a row of one message. Heights
//! of messages depend on the pane's width, so every scroll operation takes a height
//! function (the same one rendering uses) and only walks the messages it needs.

use crate::model::Message;

/// Bottom of the view: message `index`, with its last `skip` rows hidden below.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Anchor {
    pub index: usize,
    pub skip: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadState {
    Loading,
    Ready,
    Failed(String),
}

/// Rows above the first loaded message: the "start of conversation" / "loading
/// older" line.
pub const TOP_MARKER_ROWS: usize = 1;

/// How the pane is scrolled and what is selected. Kept apart from the messages so
/// a height function can borrow the messages while the viewport changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Viewport {
    /// `None`: follow the newest message.
    pub scroll: Option<Anchor>,
    /// The selected message (message actions, details), if any.
    pub selected: Option<usize>,
    /// Messages that arrived below the view while scrolled up.
    pub unseen_below: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MessageWindow {
    /// Oldest first.
    pub messages: Vec<Message>,
    pub load: LoadState,
    /// More history exists before `messages[0]`.
    pub has_older: bool,
    pub loading_older: bool,
    pub view: Viewport,
    /// Key ([`message_key`]) of the first message that was unread when the
    /// conversation was opened: a "new messages" divider goes above it.
    pub unread_mark: Option<String>,
    /// Unread count at opening, until the first page arrives to place the mark.
    pub pending_unread: u64,
    /// Key ([`message_key`]) of a message to select and show once it is loaded (the
    /// search overlay's "go to"); older pages are loaded until it is.
    pub jump_to: Option<String>,
}

impl Default for MessageWindow {
    fn default() -> Self {
        Self {
            messages: Vec::new(),
            load: LoadState::Loading,
            has_older: true,
            loading_older: false,
            view: Viewport::default(),
            unread_mark: None,
            pending_unread: 0,
            jump_to: None,
        }
    }
}

/// Do two records describe the same message? The server id when both have one,
/// else the creation id (unique per sender).
pub fn same_message(a: &Message, b: &Message) -> bool {
    (!a.msg_id.is_empty() && a.msg_id == b.msg_id)
        || (!a.id.is_empty() && a.id == b.id && a.sender == b.sender)
}

/// A stable key for a message: the server id, else the creation id.
pub fn message_key(m: &Message) -> &str {
    if m.msg_id.is_empty() {
        &m.id
    } else {
        &m.msg_id
    }
}

/// Time, then seq; a message without a seq yet (being sent, failed, online-only) is
/// the newest of its second.
fn order_key(m: &Message) -> (i64, u64) {
    (m.timestamp, if m.seq == 0 { u64::MAX } else { m.seq })
}

impl MessageWindow {
    pub fn ready() -> Self {
        Self {
            load: LoadState::Ready,
            has_older: false,
            ..Self::default()
        }
    }

    pub fn find(&self, m: &Message) -> Option<usize> {
        self.messages.iter().rposition(|x| same_message(x, m))
    }

    pub fn find_by_id(&self, id: &str) -> Option<usize> {
        self.messages
            .iter()
            .rposition(|x| x.id == id || (!x.msg_id.is_empty() && x.msg_id == id))
    }

    /// Put the unread mark on the first of the `n` newest messages from others
    /// (the first loaded one if fewer are loaded); `n == 0` removes it. Returns
    /// whether the exact message was loaded.
    pub fn mark_unread(&mut self, n: u64) -> bool {
        self.unread_mark = None;
        if n == 0 {
            return true;
        }
        let from_others = |m: &&Message| !m.is_self && m.group_tips_elem.is_none();
        let nth = self
            .messages
            .iter()
            .rev()
            .filter(from_others)
            .nth(usize::try_from(n - 1).unwrap_or(usize::MAX));
        let exact = nth.is_some();
        let at = nth.or_else(|| self.messages.iter().find(from_others));
        self.unread_mark = at.map(|m| message_key(m).to_string());
        exact
    }

    /// Index of the message carrying the unread mark.
    pub fn unread_mark_index(&self) -> Option<usize> {
        let k = self.unread_mark.as_deref()?;
        self.messages.iter().position(|m| message_key(m) == k)
    }

    /// Insert or replace `m`; returns its index and whether it is new.
    pub fn upsert(&mut self, m: Message) -> (usize, bool) {
        if let Some(i) = self.find(&m) {
            let keep_local = self.messages[i].local_custom_data.clone();
            self.messages[i] = m;
            if self.messages[i].local_custom_data.is_none() {
                self.messages[i].local_custom_data = keep_local;
            }
            // Sent: the server's time and seq can put it among others of the same second.
            let key = order_key(&self.messages[i]);
            let fits = (i == 0 || order_key(&self.messages[i - 1]) <= key)
                && self
                    .messages
                    .get(i + 1)
                    .is_none_or(|next| key <= order_key(next));
            if fits {
                return (i, false);
            }
            let m = self.messages.remove(i);
            let at = self.insertion_point(&m);
            self.messages.insert(at, m);
            self.view.moved(i, at);
            return (at, false);
        }
        let at = self.insertion_point(&m);
        self.messages.insert(at, m);
        if at + 1 < self.messages.len() {
            self.view.shift_from(at, 1);
        }
        if !self.view.is_following() && at + 1 == self.messages.len() {
            self.view.unseen_below += 1;
        }
        (at, true)
    }

    /// Where `m` goes: after every message that orders before or with it.
    fn insertion_point(&self, m: &Message) -> usize {
        let key = order_key(m);
        self.messages
            .iter()
            .rposition(|x| order_key(x) <= key)
            .map_or(0, |p| p + 1)
    }

    /// Put a page of older messages before the loaded ones (any order in; duplicates
    /// are merged). Returns how many were new.
    pub fn prepend_older(&mut self, mut page: Vec<Message>) -> usize {
        page.sort_by_key(order_key);
        let mut fresh: Vec<Message> = Vec::with_capacity(page.len());
        for m in page {
            match self.find(&m) {
                Some(i) => self.messages[i] = m,
                None if !fresh.iter().any(|f| same_message(f, &m)) => fresh.push(m),
                None => {}
            }
        }
        let n = fresh.len();
        if n > 0 {
            fresh.append(&mut self.messages);
            self.messages = fresh;
            self.view.shift_from(0, n);
        }
        n
    }

    /// Merge a page of newer (or the latest) messages.
    pub fn merge_newer(&mut self, mut page: Vec<Message>) -> usize {
        page.sort_by_key(order_key);
        let unseen = self.view.unseen_below;
        let mut n = 0;
        for m in page {
            if self.upsert(m).1 {
                n += 1;
            }
        }
        // History pages are not "new arrivals".
        self.view.unseen_below = unseen;
        n
    }
}

impl Viewport {
    pub fn is_following(&self) -> bool {
        self.scroll.is_none()
    }

    fn shift_from(&mut self, at: usize, by: usize) {
        if let Some(a) = &mut self.scroll
            && a.index >= at
        {
            a.index += by;
        }
        if let Some(s) = &mut self.selected
            && *s >= at
        {
            *s += by;
        }
    }

    /// One message moved from index `from` to `to` (its index after the move): the
    /// anchor and the selection stay on the messages they were on.
    fn moved(&mut self, from: usize, to: usize) {
        let remap = |x: usize| {
            if x == from {
                to
            } else if from < to && x > from && x <= to {
                x - 1
            } else if to < from && x >= to && x < from {
                x + 1
            } else {
                x
            }
        };
        if let Some(a) = &mut self.scroll {
            a.index = remap(a.index);
        }
        if let Some(s) = &mut self.selected {
            *s = remap(*s);
        }
    }

    pub fn follow(&mut self) {
        self.scroll = None;
        self.unseen_below = 0;
    }

    /// The bottom of the view as an anchor (following = the last message, nothing
    /// hidden), for a window of `len` messages.
    pub fn bottom(&self, len: usize) -> Option<Anchor> {
        if len == 0 {
            return None;
        }
        let last = len - 1;
        Some(match self.scroll {
            Some(a) => Anchor {
                index: a.index.min(last),
                skip: a.skip,
            },
            None => Anchor {
                index: last,
                skip: 0,
            },
        })
    }

    /// Top of the view: (message index, rows of it cut off above). `None` when the
    /// top marker row is visible (everything down from message 0 is shown).
    pub fn visible_top(
        &self,
        len: usize,
        view_h: usize,
        h: &dyn Fn(usize) -> usize,
    ) -> Option<(usize, usize)> {
        let b = self.bottom(len)?;
        let mut remaining = view_h + b.skip;
        let mut j = b.index;
        loop {
            let hj = h(j);
            if hj >= remaining {
                return Some((j, hj - remaining));
            }
            remaining -= hj;
            if j == 0 {
                return None;
            }
            j -= 1;
        }
    }

    /// The anchor that puts the top marker at the top of the view; `None` (follow) if
    /// everything fits.
    fn anchor_at_top(len: usize, view_h: usize, h: &dyn Fn(usize) -> usize) -> Option<Anchor> {
        let mut acc = TOP_MARKER_ROWS;
        for j in 0..len {
            acc += h(j);
            if acc >= view_h {
                let a = Anchor {
                    index: j,
                    skip: acc - view_h,
                };
                return (j + 1 < len || a.skip > 0).then_some(a);
            }
        }
        None
    }

    /// Scroll towards older messages by `rows`. Returns true when the top of the
    /// loaded history is (nearly) in view, i.e. it is time to load older messages.
    pub fn scroll_up(
        &mut self,
        rows: usize,
        len: usize,
        view_h: usize,
        h: &dyn Fn(usize) -> usize,
    ) -> bool {
        let Some(b) = self.bottom(len) else {
            return true;
        };
        let (mut i, mut skip) = (b.index, b.skip + rows);
        while i > 0 && skip >= h(i) {
            skip -= h(i);
            i -= 1;
        }
        // Never scroll past the top: the marker row stops at the top of the view.
        if !Self::has_rows_through(i, view_h + skip, h) {
            self.scroll = Self::anchor_at_top(len, view_h, h);
        } else {
            self.scroll = Some(Anchor { index: i, skip });
        }
        if self.scroll.is_none() {
            self.unseen_below = 0;
        }
        self.near_top(len, view_h, h)
    }

    /// Are there at least `need` rows from the top marker through message `i`?
    /// Walks upwards from `i` only as far as it must.
    fn has_rows_through(i: usize, need: usize, h: &dyn Fn(usize) -> usize) -> bool {
        let mut acc = TOP_MARKER_ROWS;
        for j in (0..=i).rev() {
            acc += h(j);
            if acc >= need {
                return true;
            }
        }
        acc >= need
    }

    /// Is the top of the loaded history within a page of the view?
    pub fn near_top(&self, len: usize, view_h: usize, h: &dyn Fn(usize) -> usize) -> bool {
        match self.visible_top(len, view_h, h) {
            None => true,
            Some((top, _)) => {
                // Within a screenful of the first message.
                let mut acc = 0;
                for j in (0..top).rev() {
                    acc += h(j);
                    if acc > view_h {
                        return false;
                    }
                }
                true
            }
        }
    }

    /// Scroll towards newer messages by `rows`; reaching the end follows again.
    pub fn scroll_down(&mut self, rows: usize, len: usize, h: &dyn Fn(usize) -> usize) {
        let Some(b) = self.bottom(len) else {
            return;
        };
        if self.scroll.is_none() {
            return;
        }
        let last = len - 1;
        let (mut i, mut skip, mut rows) = (b.index, b.skip, rows);
        if skip >= rows {
            skip -= rows;
            rows = 0;
        } else {
            rows -= skip;
            skip = 0;
        }
        while rows > 0 && i < last {
            i += 1;
            let hi = h(i);
            if rows >= hi {
                rows -= hi;
            } else {
                skip = hi - rows;
                rows = 0;
            }
        }
        if i == last && skip == 0 {
            self.follow();
        } else {
            self.scroll = Some(Anchor { index: i, skip });
        }
    }

    /// Scroll the least needed to show message `idx` whole (its top if it is taller
    /// than the view).
    pub fn ensure_visible(
        &mut self,
        idx: usize,
        len: usize,
        view_h: usize,
        h: &dyn Fn(usize) -> usize,
    ) {
        let Some(b) = self.bottom(len) else {
            return;
        };
        let last = len - 1;
        let idx = idx.min(last);
        if idx > b.index || (idx == b.index && b.skip > 0) {
            if idx == last {
                self.follow();
            } else {
                self.scroll = Some(Anchor {
                    index: idx,
                    skip: 0,
                });
            }
            // A message taller than the view shows its top instead.
            if h(idx) > view_h {
                self.align_top(idx, len, view_h, h);
            }
            return;
        }
        match self.visible_top(len, view_h, h) {
            Some((top, cut)) if idx < top || (idx == top && cut > 0) => {
                self.align_top(idx, len, view_h, h);
            }
            _ => {}
        }
    }

    fn align_top(&mut self, idx: usize, len: usize, view_h: usize, h: &dyn Fn(usize) -> usize) {
        let last = len - 1;
        let mut acc = 0;
        let mut j = idx;
        loop {
            acc += h(j);
            if acc >= view_h {
                self.scroll = Some(Anchor {
                    index: j,
                    skip: acc - view_h,
                });
                if j == last && acc == view_h {
                    self.follow();
                }
                return;
            }
            if j == last {
                self.follow();
                return;
            }
            j += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(n: u64) -> Message {
        Message {
            msg_id: format!("m{n}"),
            id: format!("c{n}"),
            sender: "bob".into(),
            timestamp: 1000 + n as i64,
            seq: n,
            ..Message::default()
        }
    }

    fn window(n: u64) -> MessageWindow {
        let mut w = MessageWindow::ready();
        w.merge_newer((0..n).map(msg).collect());
        w
    }

    const H2: &dyn Fn(usize) -> usize = &|_| 2;

    #[test]
    fn upsert_dedupes_by_server_or_creation_id() {
        let mut w = window(3);
        let (_, new) = w.upsert(msg(1));
        assert!(!new);
        // A sending message (no msgID yet) then its sent form (msgID set) is one message.
        let mut sending = msg(9);
        sending.msg_id.clear();
        assert!(w.upsert(sending).1);
        assert!(!w.upsert(msg(9)).1);
        assert_eq!(w.messages.len(), 4);
        assert_eq!(w.messages[3].msg_id, "m9");
    }

    fn at(second: i64, seq: u64, id: &str) -> Message {
        Message {
            msg_id: if seq == 0 {
                String::new()
            } else {
                format!("m-{id}")
            },
            id: id.to_string(),
            timestamp: second,
            seq,
            ..Message::default()
        }
    }

    #[test]
    fn a_message_being_sent_is_the_newest_of_its_second() {
        let mut w = MessageWindow::ready();
        w.merge_newer(vec![at(2000, 5, "a"), at(2000, 6, "b")]);
        let (i, new) = w.upsert(at(2000, 0, "mine"));
        assert!(new);
        assert_eq!(i, 2);
    }

    #[test]
    fn a_sent_message_moves_to_its_seq_and_the_selection_follows_it() {
        let mut w = MessageWindow::ready();
        w.merge_newer(vec![at(2000, 5, "a")]);
        w.upsert(at(2000, 0, "mine"));
        // Someone else's message of the same second arrives before our ack.
        w.upsert(at(2000, 7, "c"));
        let ids = |w: &MessageWindow| w.messages.iter().map(|m| m.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&w), ["a", "c", "mine"]);
        w.view.selected = Some(2);
        // The ack: seq 6, so it belongs between a and c.
        let (i, new) = w.upsert(at(2000, 6, "mine"));
        assert!(!new);
        assert_eq!(i, 1);
        assert_eq!(ids(&w), ["a", "mine", "c"]);
        assert_eq!(
            w.view.selected,
            Some(1),
            "the selection stays on the moved message"
        );
        // c was selected instead: it stays selected where it went.
        w.view.selected = Some(2);
        w.upsert(at(2001, 6, "mine"));
        assert_eq!(ids(&w), ["a", "c", "mine"]);
        assert_eq!(w.view.selected, Some(1));
    }

    #[test]
    fn inserts_in_time_order() {
        let mut w = window(0);
        w.upsert(msg(5));
        w.upsert(msg(3));
        w.upsert(msg(4));
        let seqs: Vec<u64> = w.messages.iter().map(|m| m.seq).collect();
        assert_eq!(seqs, vec![3, 4, 5]);
    }

    #[test]
    fn older_pages_shift_anchor_and_selection() {
        let mut w = MessageWindow::ready();
        w.merge_newer((10..20).map(msg).collect());
        w.view.scroll = Some(Anchor { index: 4, skip: 1 });
        w.view.selected = Some(3);
        let n = w.prepend_older((5..11).rev().map(msg).collect());
        assert_eq!(n, 5, "m10 was already there");
        assert_eq!(w.messages[0].seq, 5);
        assert_eq!(w.view.scroll, Some(Anchor { index: 9, skip: 1 }));
        assert_eq!(w.view.selected, Some(8));
        assert_eq!(w.messages[8].seq, 13, "selection stays on the same message");
    }

    #[test]
    fn new_arrivals_below_a_scrolled_view_are_counted() {
        let mut w = window(10);
        w.view.scroll = Some(Anchor { index: 5, skip: 0 });
        w.upsert(msg(10));
        w.upsert(msg(11));
        assert_eq!(w.view.unseen_below, 2);
        w.view.follow();
        assert_eq!(w.view.unseen_below, 0);
    }

    #[test]
    fn scrolling_up_and_down_by_rows() {
        let w = window(10);
        let mut v = w.view.clone();
        // 10 messages × 2 rows, view of 6 rows.
        v.scroll_up(3, 10, 6, H2);
        assert_eq!(v.scroll, Some(Anchor { index: 8, skip: 1 }));
        assert_eq!(v.visible_top(10, 6, H2), Some((5, 1)));
        v.scroll_down(1, 10, H2);
        assert_eq!(v.scroll, Some(Anchor { index: 8, skip: 0 }));
        v.scroll_down(2, 10, H2);
        assert!(v.is_following(), "reaching the end follows again");
    }

    #[test]
    fn scrolling_up_stops_at_the_top_marker() {
        let mut v = Viewport::default();
        let near = v.scroll_up(100, 10, 6, H2);
        assert!(near);
        // Marker row + m0 + m1 + 1 row of m2 fill 6 rows.
        assert_eq!(v.scroll, Some(Anchor { index: 2, skip: 1 }));
        assert_eq!(v.visible_top(10, 6, H2), None, "the marker is in view");
        assert!(v.near_top(10, 6, H2));
    }

    #[test]
    fn short_history_always_follows() {
        let mut v = Viewport::default();
        v.scroll_up(5, 2, 10, H2);
        assert!(v.is_following());
    }

    #[test]
    fn near_top_only_within_a_screen_of_the_first_message() {
        let mut v = Viewport::default();
        assert!(!v.near_top(100, 6, H2));
        v.scroll_up(194, 100, 6, H2);
        assert!(v.near_top(100, 6, H2));
    }

    #[test]
    fn the_unread_mark_goes_on_the_nth_newest_message_from_others() {
        let mut w = window(6);
        w.messages[4].is_self = true; // m4 is mine
        assert!(w.mark_unread(2));
        assert_eq!(
            w.unread_mark.as_deref(),
            Some("m3"),
            "m5 and m3 are the two newest from bob"
        );
        assert_eq!(w.unread_mark_index(), Some(3));
        assert!(!w.mark_unread(10), "fewer loaded than unread");
        assert_eq!(w.unread_mark.as_deref(), Some("m0"));
        assert!(w.mark_unread(0));
        assert_eq!(w.unread_mark, None);
    }

    #[test]
    fn ensure_visible_scrolls_the_least() {
        let mut v = Viewport::default();
        // Selecting the last message keeps following.
        v.ensure_visible(9, 10, 6, H2);
        assert!(v.is_following());
        // m5 is above the view (m7..m9 shown): it becomes the top row.
        v.ensure_visible(5, 10, 6, H2);
        assert_eq!(v.visible_top(10, 6, H2), Some((5, 0)));
        assert_eq!(v.scroll, Some(Anchor { index: 7, skip: 0 }));
        // m6 is visible now: nothing moves.
        v.ensure_visible(6, 10, 6, H2);
        assert_eq!(v.scroll, Some(Anchor { index: 7, skip: 0 }));
        // m8 is below: it becomes the bottom.
        v.ensure_visible(8, 10, 6, H2);
        assert_eq!(v.scroll, Some(Anchor { index: 8, skip: 0 }));
        // A message taller than the view shows its top.
        let tall = |i: usize| if i == 4 { 9 } else { 2 };
        v.ensure_visible(4, 10, 6, &tall);
        assert_eq!(v.visible_top(10, 6, &tall), Some((4, 0)));
    }
}
