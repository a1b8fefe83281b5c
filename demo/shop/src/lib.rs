//! A small shop backend: orders in an embedded SQLite database, a product
//! catalog with a lookup cache, and duplicate-SKU detection for imports.

use std::collections::{HashMap, HashSet};

use rusqlite::{params, Connection};

/// An order row.
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    pub id: i64,
    pub customer_id: i64,
    pub total_cents: i64,
}

/// The order store.
pub struct Orders {
    conn: Connection,
}

impl Orders {
    /// An in-memory store with `customers * per_customer` orders.
    pub fn seeded(customers: i64, per_customer: i64) -> Orders {
        let conn = Connection::open_in_memory().expect("sqlite opens in memory");
        conn.execute_batch(
            "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, total_cents INTEGER NOT NULL);
             CREATE INDEX orders_by_customer ON orders(customer_id);",
        )
        .expect("schema");
        let tx = conn.unchecked_transaction().expect("transaction");
        {
            let mut insert = tx
                .prepare("INSERT INTO orders (customer_id, total_cents) VALUES (?1, ?2)")
                .expect("insert statement");
            for order in 0..customers * per_customer {
                let customer = (order * 7919) % customers;
                insert.execute(params![customer, 100 + (order * 37) % 10_000]).expect("insert");
            }
        }
        tx.commit().expect("commit");
        Orders { conn }
    }

    /// All orders of one customer.
    pub fn for_customer(&self, customer_id: i64) -> Vec<Order> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT id, customer_id, total_cents FROM orders WHERE customer_id = ?1")
            .expect("select statement");
        let rows = statement
            .query_map(params![customer_id], |row| {
                Ok(Order { id: row.get(0)?, customer_id: row.get(1)?, total_cents: row.get(2)? })
            })
            .expect("query");
        rows.map(|r| r.expect("row")).collect()
    }
}

/// SKUs that appear more than once in an import batch.
pub fn find_duplicate_skus(skus: &[u64]) -> Vec<u64> {
    let mut seen = HashSet::with_capacity(skus.len());
    let mut duplicates = HashSet::new();
    for &sku in skus {
        if !seen.insert(sku) {
            duplicates.insert(sku);
        }
    }
    let mut duplicates: Vec<u64> = duplicates.into_iter().collect();
    duplicates.sort_unstable();
    duplicates
}

/// A product.
#[derive(Debug, Clone)]
pub struct Product {
    pub id: u32,
    pub name: String,
    pub price_cents: u64,
}

/// The product catalog, with an id → position cache.
pub struct Catalog {
    products: Vec<Product>,
    cache: HashMap<u32, usize>,
}

impl Catalog {
    pub fn new(count: u32) -> Catalog {
        let products: Vec<Product> = (0..count)
            .map(|i| Product { id: i * 3 + 1, name: format!("product-{i}"), price_cents: 199 + u64::from(i % 500) })
            .collect();
        let cache = products.iter().enumerate().map(|(pos, p)| (p.id, pos)).collect();
        Catalog { products, cache }
    }

    /// Look a product up through the cache.
    pub fn lookup(&self, id: u32) -> Option<&Product> {
        self.cache.get(&id).map(|&pos| &self.products[pos])
    }

    /// Look a product up without the cache (the admin screen's path).
    pub fn lookup_uncached(&self, id: u32) -> Option<&Product> {
        self.products.iter().find(|p| p.id == id)
    }

    /// The total of a cart of product ids.
    pub fn cart_total(&self, cart: &[u32]) -> u64 {
        cart.iter().filter_map(|&id| self.lookup(id)).map(|p| p.price_cents).sum()
    }
}
