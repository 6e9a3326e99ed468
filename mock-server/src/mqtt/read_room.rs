//! How much free room a read into a connection's buffer is given. A connection waits for its
//! peer inside a read, with that room already allocated, so an idle connection would hold all
//! of it: the room starts small, and a read that fills it doubles it for the next one, up to
//! [`MOST`]: a busy connection soon reads in large batches.

use bytes::BytesMut;

/// The room a new connection's reads get: a CONNECT, a few small packets.
const LEAST: usize = 1024;
/// The most room a read is given.
const MOST: usize = 64 * 1024;

#[derive(Debug)]
pub struct ReadRoom {
    room: usize,
}

impl Default for ReadRoom {
    fn default() -> Self {
        ReadRoom { room: LEAST }
    }
}

impl ReadRoom {
    /// Makes room in `buf` for the next read; returns how much it has.
    pub fn make(&self, buf: &mut BytesMut) -> usize {
        buf.reserve(self.room);
        buf.capacity() - buf.len()
    }

    /// After a read of `read` bytes into `room` bytes of room: one that filled it doubles it.
    pub fn read(&mut self, read: usize, room: usize) {
        if read >= room && self.room < MOST {
            self.room = (self.room * 2).min(MOST);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_small_and_doubles_while_reads_fill_it() {
        let mut room = ReadRoom::default();
        let mut buf = BytesMut::new();
        let free = room.make(&mut buf);
        assert!((LEAST..2 * LEAST).contains(&free), "{free}");
        room.read(10, free);
        assert_eq!(room.room, LEAST, "a short read leaves it");
        for _ in 0..20 {
            let free = room.make(&mut buf);
            buf.extend_from_slice(&vec![0; free]);
            room.read(free, free);
            buf.clear();
        }
        assert_eq!(room.room, MOST);
    }
}
