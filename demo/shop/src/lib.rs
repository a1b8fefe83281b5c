//! A small shop backend: an order store with an index of each customer's
//! orders, a product catalog with a lookup cache, and duplicate-SKU
//! detection for imports.

use std::collections::{HashMap, HashSet};

/// An order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Order {
    pub id: i64,
    pub customer_id: i64,
    pub total_cents: i64,
}

/// The order store: orders as they arrived, and where each customer's are.
pub struct Orders {
    rows: Vec<Order>,
    by_customer: HashMap<i64, Vec<usize>>,
}

impl Orders {
    /// A store with `customers * per_customer` orders.
    pub fn seeded(customers: i64, per_customer: i64) -> Orders {
        let rows: Vec<Order> = (0..customers * per_customer)
            .map(|id| Order { id, customer_id: (id * 7919) % customers, total_cents: 100 + (id * 37) % 10_000 })
            .collect();
        let mut by_customer: HashMap<i64, Vec<usize>> = HashMap::new();
        for (pos, order) in rows.iter().enumerate() {
            by_customer.entry(order.customer_id).or_default().push(pos);
        }
        Orders { rows, by_customer }
    }

    /// All orders of one customer.
    pub fn for_customer(&self, customer_id: i64) -> Vec<Order> {
        let positions = self.by_customer.get(&customer_id).map_or(&[][..], Vec::as_slice);
        positions.iter().map(|&pos| self.rows[pos]).collect()
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
