//! Which address an executed cell gets: its label (`# @B3 title`), then `pysheets.address`
//! metadata, then the address its cellId had, then the next free address down column A.

use super::{CellError, LiveSheet};
use crate::core::labels;
use crate::sheet::Address;
use serde_json::Value;

/// Where an executed cell goes, and what its label says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Placement {
    pub address: Address,
    pub title: String,
    pub lazy: bool,
    pub format: Option<String>,
}

impl<C> LiveSheet<C> {
    fn next_free_in_a(&mut self) -> Address {
        loop {
            let candidate = Address {
                col: 0,
                row: self.next_in_a,
            };
            if !self.cells.contains_key(&candidate) {
                return candidate;
            }
            self.next_in_a += 1;
        }
    }

    /// The address rules, in order: label, `pysheets.address` metadata, the cellId's address,
    /// the next free address down column A. An address held by another cellId is a conflict.
    pub(super) fn choose_address(
        &mut self,
        code: &str,
        metadata: &Value,
    ) -> Result<Placement, CellError> {
        let cell_id = metadata["cellId"].as_str();
        let label = labels::read(code).map_err(|e| CellError::new("LabelError", e.to_string()))?;
        let from_metadata = metadata["pysheets"]["address"]
            .as_str()
            .and_then(|a| a.parse::<Address>().ok());
        let placement = match label {
            Some(l) => Placement {
                address: l.address,
                title: l.title,
                lazy: l.lazy,
                format: l.format,
            },
            None => {
                let address = from_metadata
                    .or_else(|| cell_id.and_then(|id| self.by_id.get(id).copied()))
                    .unwrap_or_else(|| self.next_free_in_a());
                Placement {
                    address,
                    title: String::new(),
                    lazy: false,
                    format: None,
                }
            }
        };
        let address = placement.address;
        if let (Some(holder), Some(id)) = (self.cells.get(&address), cell_id) {
            if let Some(other) = holder.cell_id.as_deref().filter(|other| *other != id) {
                return Err(CellError::new(
                    "AddressConflict",
                    format!(
                        "{address} is already the address of another cell (cellId {other}); \
                         pick another address or delete that cell"
                    ),
                ));
            }
        }
        Ok(placement)
    }

    /// The address the cell with this cellId had before, if it moved (its label changed).
    pub(super) fn moved_from(&self, cell_id: &str, address: Address) -> Option<Address> {
        self.by_id
            .get(cell_id)
            .copied()
            .filter(|&old| old != address)
    }

    /// Records that `address` now belongs to the cell `cell_id` (or to a console input, which
    /// has none): a console re-definition of a labelled address takes it from its holder.
    pub(super) fn claim(&mut self, address: Address, cell_id: Option<&String>) {
        if let Some(id) = cell_id {
            self.by_id.insert(id.clone(), address);
        }
        if let Some(previous) = self.cells.get(&address) {
            if let Some(old_id) = previous.cell_id.clone().filter(|o| Some(o) != cell_id) {
                self.by_id.remove(&old_id);
            }
        }
    }

    /// Forgets the address of a deleted cell: its cellId, and column A's free slot.
    pub(super) fn release(&mut self, address: Address, cell_id: Option<&String>) {
        if let Some(id) = cell_id {
            if self.by_id.get(id) == Some(&address) {
                self.by_id.remove(id);
            }
        }
        if address.col == 0 {
            self.next_in_a = self.next_in_a.min(address.row);
        }
    }

    /// The address of the cell with this cellId.
    pub fn address_of(&self, cell_id: &str) -> Option<Address> {
        self.by_id.get(cell_id).copied()
    }
}
