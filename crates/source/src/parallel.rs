//! The one decision about threads.

use std::num::NonZeroUsize;

use ocisize_layer::Pipeline;

/// How many threads reading may use, decided once (by the caller, or from the machine) and
/// passed down: how many blobs are measured at once, and whether one compressed blob's
/// stages run on threads of their own ([`Pipeline`]).
///
/// ```
/// use ocisize_source::Parallelism;
///
/// let p = Parallelism::new(8);
/// let (outer, per_source) = p.split(3);
/// assert_eq!((outer, per_source.threads()), (3, 1));
/// assert_eq!(Parallelism::new(1).pipeline(), ocisize_source::Pipeline::Serial);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parallelism {
    threads: NonZeroUsize,
    staged: bool,
}

impl Default for Parallelism {
    /// Every core the machine offers.
    fn default() -> Self {
        Parallelism::available()
    }
}

impl Parallelism {
    /// Every core the machine offers (`std::thread::available_parallelism`).
    pub fn available() -> Parallelism {
        Parallelism::new(std::thread::available_parallelism().map_or(1, NonZeroUsize::get))
    }

    /// `threads` threads (0 is taken as 1). With one thread everything runs on the calling
    /// thread; with more, blobs are measured in parallel and each compressed blob is staged.
    pub fn new(threads: usize) -> Parallelism {
        let threads = NonZeroUsize::new(threads).unwrap_or(NonZeroUsize::MIN);
        Parallelism { threads, staged: threads.get() > 1 }
    }

    /// Threads for measuring blobs at once.
    pub fn threads(self) -> usize {
        self.threads.get()
    }

    /// How one blob's measurement is spread over threads.
    pub fn pipeline(self) -> Pipeline {
        if self.staged {
            Pipeline::Staged
        } else {
            Pipeline::Serial
        }
    }

    /// Share the threads among `sources` sources read at once: how many sources run at once,
    /// and what each may use. Each source reads its blobs on one thread; when there are at
    /// least two cores per source, each compressed blob still gets its staged pipeline.
    pub fn split(self, sources: usize) -> (usize, Parallelism) {
        let outer = self.threads().clamp(1, sources.max(1));
        let staged = self.threads() >= 2 * outer;
        (outer, Parallelism { threads: NonZeroUsize::MIN, staged })
    }
}
