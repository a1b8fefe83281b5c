//! A function's machine code, fingerprinted so that where it sits does not
//! matter but what it does does: each instruction's bytes, with every
//! address it names (a call or jump target, a `rip`-relative operand)
//! replaced by what is there (`function+offset`), and the read-only data it
//! reads (lookup tables, constants) hashed in. The same function compiled
//! into two executables at different addresses gets the same fingerprint;
//! one instruction swapped for another of the same length does not.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;

use iced_x86::{Decoder, DecoderOptions, Instruction, OpKind};
use object::{
    Object, ObjectSection, ObjectSymbol, ObjectSymbolTable, RelocationTarget, SectionKind,
};
use sha2::Digest;

use crate::error::{Error, Result};

/// Read-only data a function refers to without a symbol of its own (an
/// anonymous constant) is hashed up to the next symbol, at most this far.
const ANONYMOUS_DATA_BYTES: u64 = 256;

/// A mapped section: where it is, what it holds, whether code may write it.
struct Section {
    name: String,
    address: u64,
    kind: SectionKind,
    bytes: Vec<u8>,
}

/// What the loader writes into a slot: another object's symbol, or an
/// address in this executable.
enum Relocated {
    Symbol(String),
    Address(u64),
}

/// One bench executable's symbols, sections and load-time relocations, and
/// the fingerprints made so far.
pub struct CodeIndex {
    sections: Vec<Section>,
    /// (address, size, name), sorted by address.
    symbols: Vec<(u64, u64, String)>,
    by_name: HashMap<String, usize>,
    /// What the loader writes at an address (a `.got` slot).
    relocated: HashMap<u64, Relocated>,
    digests: HashMap<String, Option<String>>,
    /// Shallow digests of the functions called so far, by address: a callee
    /// is named by its code at every call site of every function.
    callees: RefCell<HashMap<u64, Option<String>>>,
}

impl CodeIndex {
    /// Read the executable at `path`.
    pub fn read(path: &Path) -> Result<CodeIndex> {
        let data = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let invalid = |e: object::Error| {
            Error::io(
                path,
                std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()),
            )
        };
        let file = object::File::parse(&*data).map_err(invalid)?;
        let mut sections = Vec::new();
        for section in file.sections() {
            if section.address() == 0 || section.kind() == SectionKind::UninitializedData {
                continue;
            }
            sections.push(Section {
                name: section.name().unwrap_or("").to_string(),
                address: section.address(),
                kind: section.kind(),
                bytes: section.data().map_err(invalid)?.to_vec(),
            });
        }
        let mut symbols: Vec<(u64, u64, String)> = file
            .symbols()
            .filter(|s| s.address() != 0 && s.is_definition())
            .filter_map(|s| Some((s.address(), s.size(), s.name().ok()?.to_string())))
            .collect();
        symbols.sort();
        let by_name = symbols
            .iter()
            .enumerate()
            .map(|(i, (_, _, name))| (name.clone(), i))
            .collect();
        let mut relocated = HashMap::new();
        if let Some(relocations) = file.dynamic_relocations() {
            for (at, relocation) in relocations {
                let target = match relocation.target() {
                    RelocationTarget::Symbol(index) => file
                        .dynamic_symbol_table()
                        .and_then(|table| table.symbol_by_index(index).ok())
                        .and_then(|symbol| symbol.name().ok())
                        .map(|name| Relocated::Symbol(name.to_string())),
                    _ => Some(Relocated::Address(relocation.addend() as u64)),
                };
                if let Some(target) = target {
                    relocated.insert(at, target);
                }
            }
        }
        Ok(CodeIndex {
            sections,
            symbols,
            by_name,
            relocated,
            digests: HashMap::new(),
            callees: RefCell::default(),
        })
    }

    /// The fingerprint of the function named `name` (a symbol of this
    /// executable), or None when it has no symbol with code.
    pub fn digest(&mut self, name: &str) -> Option<String> {
        if let Some(known) = self.digests.get(name) {
            return known.clone();
        }
        let digest = self.compute(name);
        self.digests.insert(name.to_string(), digest.clone());
        digest
    }

    fn compute(&self, name: &str) -> Option<String> {
        let &(start, size, _) = self.symbols.get(*self.by_name.get(name)?)?;
        self.walk(start, size, true)
    }

    /// A digest of the code at `start..start+size`: each instruction's
    /// bytes with the addresses in them blanked, and, when `deep`, what
    /// those addresses name (`describe`).
    fn walk(&self, start: u64, size: u64, deep: bool) -> Option<String> {
        let bytes = self.bytes_at(start, size)?;
        let mut hasher = sha2::Sha256::new();
        let mut decoder = Decoder::with_ip(64, bytes, start, DecoderOptions::NONE);
        let mut instruction = Instruction::default();
        while decoder.can_decode() {
            let at = (decoder.ip() - start) as usize;
            decoder.decode_out(&mut instruction);
            let mut raw = bytes[at..at + instruction.len()].to_vec();
            let offsets = decoder.get_constant_offsets(&instruction);
            let mut targets = Vec::new();
            if is_near_branch(&instruction) && offsets.has_immediate() {
                blank(
                    &mut raw,
                    offsets.immediate_offset(),
                    offsets.immediate_size(),
                );
                targets.push(instruction.near_branch_target());
            }
            if instruction.is_ip_rel_memory_operand() && offsets.has_displacement() {
                blank(
                    &mut raw,
                    offsets.displacement_offset(),
                    offsets.displacement_size(),
                );
                targets.push(instruction.ip_rel_memory_address());
            }
            hasher.update((raw.len() as u8).to_le_bytes());
            hasher.update(&raw);
            for target in targets.into_iter().filter(|_| deep) {
                hasher.update(self.describe(target, start, size).as_bytes());
                hasher.update([0]);
            }
        }
        Some(format!("{:x}", hasher.finalize()))
    }

    /// What is at `address`, as seen from the function at `start..start+size`:
    /// a place in itself, a slot the loader fills (named by what it points
    /// to), or another place (`describe_place`).
    fn describe(&self, address: u64, start: u64, size: u64) -> String {
        if (start..start + size).contains(&address) {
            return format!("here+{}", address - start);
        }
        if let Some(targets) = self.jump_table(address, start, size) {
            return format!("jump table {targets:?}");
        }
        match self.relocated.get(&address) {
            Some(Relocated::Symbol(name)) => format!("slot -> {name}"),
            Some(Relocated::Address(target)) => format!("slot -> {}", self.describe_place(*target)),
            None => self.describe_place(address),
        }
    }

    /// Read-only data by its bytes, another function by its own code
    /// (shallow), anything else by symbol. Not by a function's symbol:
    /// identical functions are often folded into one address with several
    /// names, and which name a side shows is chance.
    fn describe_place(&self, address: u64) -> String {
        let Some(section) = self.section_of(address) else {
            return "outside".into();
        };
        match section.kind {
            kind if is_read_only(kind) => {
                let offset = self
                    .symbol_at(address)
                    .map_or(0, |(symbol_start, _, _)| address - symbol_start);
                format!("data+{offset} = {}", self.read_only_digest(address))
            }
            SectionKind::Text => match self.symbol_at(address) {
                Some((callee, callee_size, _)) if callee == address && callee_size > 0 => self
                    .callee_digest(callee, callee_size)
                    .map_or_else(|| self.describe_plain(address), |d| format!("code {d}")),
                _ => self.describe_plain(address),
            },
            _ => self.describe_plain(address),
        }
    }

    /// A jump table at `address` used by the function at
    /// `start..start+size`: read-only 32-bit offsets from the table to
    /// places in the function (how compilers lay out a `match` as a table).
    /// Named by the places (`here+offset`), not by the offsets, which
    /// change whenever the code moves away from the table. None when fewer
    /// than two entries at `address` land in the function.
    fn jump_table(&self, address: u64, start: u64, size: u64) -> Option<Vec<u64>> {
        let section = self.section_of(address)?;
        if !is_read_only(section.kind) {
            return None;
        }
        let targets: Vec<u64> = (address..)
            .step_by(4)
            .map_while(|at| {
                let target = offset_target(section, address, at)?;
                (start..start + size)
                    .contains(&target)
                    .then(|| target - start)
            })
            .collect();
        (targets.len() >= 2).then_some(targets)
    }

    /// Where, after `address`, the next table of 32-bit offsets into code
    /// (another function's jump table) starts, or u64::MAX. Anonymous data
    /// ends there: such a table is never what this function reads, and its
    /// offsets change whenever the code it leads to moves. A table of such
    /// offsets starting at `address` itself is read whole.
    fn next_code_offsets(&self, address: u64) -> u64 {
        let Some(section) = self.section_of(address) else {
            return u64::MAX;
        };
        let leads_to_code = |at: u64| {
            offset_target(section, at, at)
                .and_then(|target| self.section_of(target))
                .is_some_and(|s| s.kind == SectionKind::Text)
        };
        let table_at = |at: u64| leads_to_code(at) && leads_to_code(at + 4);
        let end = address + ANONYMOUS_DATA_BYTES;
        let mut at = address.next_multiple_of(4);
        if at == address {
            while at < end && leads_to_code(at) {
                at += 4;
            }
        }
        while at < end {
            if table_at(at) {
                return at;
            }
            at += 4;
        }
        u64::MAX
    }

    /// The shallow digest of the function at `start`, made once.
    fn callee_digest(&self, start: u64, size: u64) -> Option<String> {
        if let Some(known) = self.callees.borrow().get(&start) {
            return known.clone();
        }
        let digest = self.walk(start, size, false);
        self.callees.borrow_mut().insert(start, digest.clone());
        digest
    }

    /// `symbol+offset`, or the section's name when no symbol holds it.
    fn describe_plain(&self, address: u64) -> String {
        match self.symbol_at(address) {
            Some((symbol_start, _, name)) => format!("{name}+{}", address - symbol_start),
            None => self
                .section_of(address)
                .map_or("outside".into(), |s| format!("{} (no symbol)", s.name)),
        }
    }

    /// A digest of the read-only bytes at `address`: the symbol's bytes from
    /// there on, or up to the next symbol (anonymous constants).
    fn read_only_digest(&self, address: u64) -> String {
        let next = self.symbols.partition_point(|(a, _, _)| *a <= address);
        let end = match self.symbol_at(address) {
            Some((symbol_start, size, _)) => (symbol_start + size).max(address + 1),
            None => self
                .symbols
                .get(next)
                .map_or(u64::MAX, |(a, _, _)| *a)
                .min(address + ANONYMOUS_DATA_BYTES)
                .min(self.next_code_offsets(address)),
        };
        let section = self.section_of(address).expect("checked by the caller");
        let section_end = section.address + section.bytes.len() as u64;
        let bytes = self
            .bytes_at(address, end.min(section_end) - address)
            .unwrap_or(&[]);
        format!("{:x}", sha2::Sha256::digest(bytes))
    }

    fn section_of(&self, address: u64) -> Option<&Section> {
        self.sections
            .iter()
            .find(|s| (s.address..s.address + s.bytes.len() as u64).contains(&address))
    }

    /// The symbol holding `address`: its start, size and name.
    fn symbol_at(&self, address: u64) -> Option<(u64, u64, &str)> {
        let after = self.symbols.partition_point(|(a, _, _)| *a <= address);
        // Symbols nest rarely and never deep: a short look back suffices.
        self.symbols[..after]
            .iter()
            .rev()
            .take(64)
            .find(|(a, size, _)| address < a + (*size).max(1))
            .map(|(a, size, name)| (*a, *size, name.as_str()))
    }

    fn bytes_at(&self, address: u64, size: u64) -> Option<&[u8]> {
        let section = self.section_of(address)?;
        let from = (address - section.address) as usize;
        section.bytes.get(from..from + size as usize)
    }
}

/// Read-only data. Linkers merge string constants into `.rodata`, which
/// then reads as a string section.
fn is_read_only(kind: SectionKind) -> bool {
    matches!(
        kind,
        SectionKind::ReadOnlyData | SectionKind::ReadOnlyString
    )
}

/// Where the 32-bit offset stored at `at` in `section` leads, counted from
/// `base` (a jump table's entries count from the table's start); None past
/// the section's end.
fn offset_target(section: &Section, base: u64, at: u64) -> Option<u64> {
    let from = usize::try_from(at.checked_sub(section.address)?).ok()?;
    let entry = section.bytes.get(from..from.checked_add(4)?)?;
    let offset = i32::from_le_bytes(entry.try_into().expect("four bytes"));
    base.checked_add_signed(i64::from(offset))
}

fn is_near_branch(instruction: &Instruction) -> bool {
    matches!(
        instruction.op0_kind(),
        OpKind::NearBranch16 | OpKind::NearBranch32 | OpKind::NearBranch64
    )
}

fn blank(raw: &mut [u8], offset: usize, size: usize) {
    for byte in raw.iter_mut().skip(offset).take(size) {
        *byte = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[inline(never)]
    fn scaled(x: u64, k: u64) -> u64 {
        std::hint::black_box(x).wrapping_mul(k) ^ 0x9e37_79b9
    }

    #[inline(never)]
    fn divided(x: u64, k: u64) -> u64 {
        (std::hint::black_box(x) / k.max(1)) ^ 0x9e37_79b9
    }

    fn symbol_of(index: &CodeIndex, fragment: &str) -> String {
        index
            .symbols
            .iter()
            .map(|(_, _, name)| name)
            .find(|name| name.contains(fragment))
            .unwrap_or_else(|| panic!("no symbol with {fragment}"))
            .clone()
    }

    /// An index of one function (code at 0x1000, 0x100 bytes) and a
    /// read-only table at `table` of offsets from the table to `places`
    /// in the function, then data that leads nowhere.
    fn with_table(table: u64, places: &[u64]) -> CodeIndex {
        let mut bytes: Vec<u8> = places
            .iter()
            .flat_map(|place| (((0x1000 + place) as i64 - table as i64) as i32).to_le_bytes())
            .collect();
        bytes.extend(0x7fff_0000i32.to_le_bytes());
        let section = |name: &str, address, kind, bytes| Section {
            name: name.into(),
            address,
            kind,
            bytes,
        };
        CodeIndex {
            sections: vec![
                section(".text", 0x1000, SectionKind::Text, vec![0xc3; 0x100]),
                section(".rodata", table, SectionKind::ReadOnlyData, bytes),
            ],
            symbols: vec![(0x1000, 0x100, "f".into())],
            by_name: HashMap::new(),
            relocated: HashMap::new(),
            digests: HashMap::new(),
            callees: RefCell::default(),
        }
    }

    #[test]
    fn a_jump_table_is_named_by_where_it_leads_not_by_its_offsets() {
        let near = with_table(0x400, &[0x10, 0x24, 0x80]);
        let mut merged = with_table(0x400, &[0x10, 0x24, 0x80]);
        merged.sections[1].kind = SectionKind::ReadOnlyString;
        let far = with_table(0x9000, &[0x10, 0x24, 0x80]);
        let describe = |index: &CodeIndex, table| index.describe(table, 0x1000, 0x100);
        assert_eq!(describe(&near, 0x400), "jump table [16, 36, 128]");
        assert_eq!(describe(&near, 0x400), describe(&far, 0x9000));
        assert_eq!(describe(&merged, 0x400), describe(&far, 0x9000));
        let other = with_table(0x9000, &[0x10, 0x28, 0x80]);
        assert_ne!(describe(&far, 0x9000), describe(&other, 0x9000));
        // One entry is no table: read as data, by its bytes.
        let single = with_table(0x400, &[0x10]);
        assert!(describe(&single, 0x400).starts_with("data+0 = "));
    }

    #[test]
    fn anonymous_data_ends_where_another_functions_jump_table_starts() {
        // A 12-byte string, then a table of offsets into code (another
        // function's jump table) that changes when that code moves.
        let read_only = |table: [u64; 2], tail: u8| {
            let mut bytes = b"called unwra".to_vec();
            for (n, place) in table.iter().enumerate() {
                let at = 0x40c + 4 * n as i64;
                bytes.extend((((0x1000 + place) as i64 - at) as i32).to_le_bytes());
            }
            bytes.extend([tail; 8]);
            let mut index = with_table(0x9000, &[0x10, 0x20]);
            index.sections[1] = Section {
                name: ".rodata".into(),
                address: 0x400,
                kind: SectionKind::ReadOnlyString,
                bytes,
            };
            index.read_only_digest(0x400)
        };
        assert_eq!(read_only([0x10, 0x20], 1), read_only([0x30, 0x40], 2));
        // The table read from its start is read whole, and what follows.
        let from_table = |table: [u64; 2], tail: u8| {
            let mut index = with_table(0x9000, &[0x10, 0x20]);
            let mut bytes: Vec<u8> = table
                .iter()
                .enumerate()
                .flat_map(|(n, place)| {
                    (((0x1000 + place) as i64 - (0x400 + 4 * n as i64)) as i32).to_le_bytes()
                })
                .collect();
            bytes.extend([tail; 8]);
            index.sections[1].address = 0x400;
            index.sections[1].bytes = bytes;
            index.read_only_digest(0x400)
        };
        assert_ne!(from_table([0x10, 0x20], 1), from_table([0x30, 0x40], 1));
        assert_ne!(from_table([0x10, 0x20], 1), from_table([0x10, 0x20], 2));
    }

    #[test]
    fn a_function_keeps_its_fingerprint_in_a_copy_and_differs_from_another() {
        assert_ne!(scaled(3, 5), divided(3, 5));
        let me = std::env::current_exe().unwrap();
        let mut index = CodeIndex::read(&me).unwrap();
        let mul = symbol_of(&index, "fingerprint5tests6scaled");
        let div = symbol_of(&index, "fingerprint5tests7divided");
        let (mul_digest, div_digest) = (index.digest(&mul), index.digest(&div));
        assert!(mul_digest.is_some());
        assert_ne!(mul_digest, div_digest);
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("copy");
        std::fs::copy(&me, &copy).unwrap();
        let mut again = CodeIndex::read(&copy).unwrap();
        assert_eq!(again.digest(&mul), mul_digest);
        assert_eq!(again.digest(&div), div_digest);
        assert_eq!(index.digest("no such function"), None);
    }
}
