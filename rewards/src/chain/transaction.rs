//! Signed transactions as wire bytes, so a signature is known before anything is sent and the
//! same bytes can be stored, re-sent after a crash, and handed to either backend (litesvm takes
//! `solana-transaction` 4.x, anchor-client 3.x: the wire format is the same).

use super::error::{ChainError, Result};
use solana_address::Address as Pubkey;
use solana_hash::Hash;
use solana_instruction::Instruction;
use solana_message::Message;
use solana_signature::Signature;
use solana_signer::Signer;
use solana_transaction::Transaction;

/// Solana's maximum serialized transaction size (an IPv6 MTU minus headers: 1280 - 40 - 8).
pub const PACKET_DATA_SIZE_BYTES: usize = 1232;

/// A fully signed legacy transaction in wire format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedTransaction {
    signature: Signature,
    blockhash: Hash,
    wire: Vec<u8>,
}

impl SignedTransaction {
    /// Builds and signs a transaction paying fees from `payer` (its first signature, and so the
    /// transaction's identity). `signers` are every other required signer; duplicates of the
    /// payer or of each other are ignored. Fails if a required signature is missing or the
    /// result exceeds [`PACKET_DATA_SIZE_BYTES`].
    pub fn new(
        instructions: &[Instruction],
        payer: &dyn Signer,
        signers: &[&dyn Signer],
        blockhash: Hash,
    ) -> Result<Self> {
        let message = Message::new_with_blockhash(instructions, Some(&payer.pubkey()), &blockhash);
        let mut all: Vec<&dyn Signer> = vec![payer];
        for signer in signers {
            if !all.iter().any(|s| s.pubkey() == signer.pubkey()) {
                all.push(*signer);
            }
        }
        let mut transaction = Transaction::new_unsigned(message);
        transaction.try_sign(&all, blockhash)?;
        Self::from_transaction(&transaction)
    }

    fn from_transaction(transaction: &Transaction) -> Result<Self> {
        let wire = wincode::serialize(transaction).map_err(|e| ChainError::Decode {
            what: "transaction",
            detail: e.to_string(),
        })?;
        if wire.len() > PACKET_DATA_SIZE_BYTES {
            return Err(ChainError::TooLarge {
                size_bytes: wire.len(),
                limit_bytes: PACKET_DATA_SIZE_BYTES,
            });
        }
        let signature = transaction
            .signatures
            .first()
            .copied()
            .ok_or(ChainError::Decode {
                what: "transaction",
                detail: "no signature".into(),
            })?;
        Ok(Self {
            signature,
            blockhash: transaction.message.recent_blockhash,
            wire,
        })
    }

    /// Decodes wire bytes stored earlier (e.g. in a mint ledger).
    pub fn from_wire(wire: &[u8]) -> Result<Self> {
        let transaction: Transaction =
            wincode::deserialize_exact(wire).map_err(|e| ChainError::Decode {
                what: "transaction",
                detail: e.to_string(),
            })?;
        Self::from_transaction(&transaction)
    }

    /// The first (fee payer's) signature: the transaction's id on chain.
    pub fn signature(&self) -> Signature {
        self.signature
    }

    /// The blockhash it was signed against; once that expires it can never land.
    pub fn blockhash(&self) -> Hash {
        self.blockhash
    }

    /// Wire bytes, as sent to the cluster.
    pub fn wire(&self) -> &[u8] {
        &self.wire
    }

    /// Decodes into the `solana-transaction` 4.x type (litesvm's).
    pub fn transaction(&self) -> Result<Transaction> {
        wincode::deserialize_exact(&self.wire).map_err(|e| ChainError::Decode {
            what: "transaction",
            detail: e.to_string(),
        })
    }
}

/// The serialized size of a transaction with `instructions` and fee payer `payer`, with every
/// required signature present (signature bytes do not change the size), without signing.
pub fn serialized_size(instructions: &[Instruction], payer: &Pubkey) -> usize {
    let message = Message::new(instructions, Some(payer));
    let signatures = usize::from(message.header.num_required_signatures);
    short_vec_len(signatures) + signatures * 64 + message.serialize().len()
}

/// Bytes of Solana's compact-u16 length prefix.
fn short_vec_len(len: usize) -> usize {
    match len {
        0..=0x7f => 1,
        0x80..=0x3fff => 2,
        _ => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use solana_keypair::Keypair;

    #[test]
    fn computed_size_equals_signed_size_and_wire_round_trips() {
        let payer = Keypair::new();
        let other = Keypair::new();
        let ix =
            solana_system_interface::instruction::transfer(&payer.pubkey(), &other.pubkey(), 5);
        let mut ix2 = crate::chain::instructions::memo("tag");
        ix2.accounts
            .push(solana_instruction::AccountMeta::new_readonly(
                other.pubkey(),
                true,
            ));
        let ixs = [ix, ix2];
        let tx = SignedTransaction::new(&ixs, &payer, &[&other, &payer], Hash::new_unique())
            .expect("signed");
        assert_eq!(tx.wire().len(), serialized_size(&ixs, &payer.pubkey()));
        assert_eq!(
            SignedTransaction::from_wire(tx.wire()).expect("decodes"),
            tx
        );
        assert_eq!(
            tx.transaction().expect("decodes").signatures[0],
            tx.signature()
        );
    }

    #[test]
    fn missing_signer_is_an_error() {
        let payer = Keypair::new();
        let mut ix = crate::chain::instructions::memo("tag");
        ix.accounts
            .push(solana_instruction::AccountMeta::new_readonly(
                Pubkey::new_unique(),
                true,
            ));
        let err = SignedTransaction::new(&[ix], &payer, &[], Hash::new_unique());
        assert!(matches!(err, Err(ChainError::Signing(_))));
    }
}
