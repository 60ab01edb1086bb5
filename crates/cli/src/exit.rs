//! Exit codes of product.md: 0 ok, 1 findings at or above `--fail-on`, 2 usage or input error.
//! Anything else that stops a run (the store cannot be written, the runtime fails) is 3, so a
//! script can tell "your input is wrong" from "the run broke".

/// The process exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    Ok = 0,
    #[allow(dead_code)] // used once assessment lands (`--fail-on`)
    Findings = 1,
    Input = 2,
    Failure = 3,
}

/// An error the user can fix by changing the command line or an input file.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);

/// Maps an error to its exit status by type: input errors (anywhere in the chain) are 2.
pub fn classify(err: &anyhow::Error) -> Exit {
    let is_input = err.chain().any(|e| {
        e.is::<InputError>()
            || e.is::<medsurface_scan::TargetError>()
            || e.is::<medsurface_scan::PortError>()
            || e.is::<medsurface_scan::Refusal>()
            || e.is::<medsurface_scan::ExclusionError>()
            || e.is::<medsurface_scan::SpaceError>()
            || e.is::<medsurface_scan::ShardError>()
            || matches!(
                e.downcast_ref::<medsurface_store::StoreError>(),
                Some(medsurface_store::StoreError::ScanNotFound(_))
            )
    });
    if is_input {
        Exit::Input
    } else {
        Exit::Failure
    }
}
