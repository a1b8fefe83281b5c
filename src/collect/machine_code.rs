//! Whether two bench executables run the same machine code: every section
//! the loader maps and the program executes or reads (code, read-only data,
//! data, thread-local data) compared by name, address and bytes. Debug
//! information, symbol tables, notes (the build id) and comments are not
//! loaded, so they are left out; embedded source paths are already the same
//! on both sides (`paired::workspace_flags` maps the base's onto the head's).
//! Identical code on both sides cannot differ in speed by anything but
//! noise, so a paired run does not time it.

use std::path::Path;

use object::{Object, ObjectSection, SectionKind};

use crate::error::{Error, Result};

/// One loaded section: its name, address and contents.
type Section = (String, u64, Vec<u8>);

/// The loaded sections of the executable at `path`, in file order.
fn loaded_sections(path: &Path) -> Result<Vec<Section>> {
    let data = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let file = object::File::parse(&*data).map_err(|e| {
        Error::io(
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()),
        )
    })?;
    let mut sections = Vec::new();
    for section in file.sections() {
        let loaded = matches!(
            section.kind(),
            SectionKind::Text
                | SectionKind::Data
                | SectionKind::ReadOnlyData
                | SectionKind::ReadOnlyDataWithRel
                | SectionKind::ReadOnlyString
                | SectionKind::UninitializedData
                | SectionKind::Tls
                | SectionKind::UninitializedTls
                | SectionKind::TlsVariables
        );
        if !loaded {
            continue;
        }
        let name = section.name().unwrap_or("").to_string();
        // Uninitialised sections have a size but no bytes in the file.
        let bytes = match section.kind() {
            SectionKind::UninitializedData | SectionKind::UninitializedTls => {
                section.size().to_le_bytes().to_vec()
            }
            _ => section
                .data()
                .map_err(|e| {
                    Error::io(
                        path,
                        std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()),
                    )
                })?
                .to_vec(),
        };
        sections.push((name, section.address(), bytes));
    }
    Ok(sections)
}

/// Whether the executables at `a` and `b` load and run the same machine code.
pub fn same_machine_code(a: &Path, b: &Path) -> Result<bool> {
    Ok(loaded_sections(a)? == loaded_sections(b)?)
}

/// A digest of what the executable at `path` loads and runs: two
/// executables with the same digest run the same machine code.
pub fn machine_code_digest(path: &Path) -> Result<String> {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    for (name, address, bytes) in loaded_sections(path)? {
        for part in [name.as_bytes(), &address.to_le_bytes(), &bytes] {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
    }
    Ok(format!("{:x}", hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_executable_is_identical_to_its_copy_and_not_to_another_program() {
        let me = std::env::current_exe().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("copy");
        std::fs::copy(&me, &copy).unwrap();
        assert!(same_machine_code(&me, &copy).unwrap());
        // Only a non-loaded part changed (appended bytes past every section).
        let mut bytes = std::fs::read(&me).unwrap();
        bytes.extend_from_slice(b"not loaded");
        std::fs::write(&copy, &bytes).unwrap();
        assert!(same_machine_code(&me, &copy).unwrap());
        assert_eq!(
            machine_code_digest(&me).unwrap(),
            machine_code_digest(&copy).unwrap()
        );
        // One byte of code changed.
        let text = loaded_sections(&me)
            .unwrap()
            .into_iter()
            .find(|(name, _, _)| name == ".text")
            .unwrap();
        let data = std::fs::read(&me).unwrap();
        let file = object::File::parse(&*data).unwrap();
        let (offset, _) = file.section_by_name(".text").unwrap().file_range().unwrap();
        let mut changed = data.clone();
        changed[offset as usize + text.2.len() / 2] ^= 0xff;
        std::fs::write(&copy, &changed).unwrap();
        assert!(!same_machine_code(&me, &copy).unwrap());
        assert_ne!(
            machine_code_digest(&me).unwrap(),
            machine_code_digest(&copy).unwrap()
        );
        let not_an_executable = dir.path().join("text");
        std::fs::write(&not_an_executable, "hello").unwrap();
        assert!(same_machine_code(&me, &not_an_executable).is_err());
    }
}
