//! `flamegate demo`: the whole gate on the bundled sample backend.

use crate::cli::run::DemoArgs;
use crate::error::Result;
use crate::pipeline::Output;

/// Run the demo (`crate::demo`, which calls the same stage API as `check`).
pub(crate) fn demo(args: DemoArgs, output: Output) -> Result<u8> {
    crate::demo::run(
        args.dir,
        args.markdown_out,
        args.measure.into(),
        args.tour,
        output,
    )
}
