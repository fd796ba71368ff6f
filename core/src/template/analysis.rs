//! What a template is, read off minijinja's syntax tree rather than its text: whether it is
//! one `{{ expression }}` (typing rule 2) and whether that expression is a pure path, and
//! which variables it reads (`vars.x`, `vars['x']`, `vars.get('x')`, bare names), so that
//! the host can lock exactly those before evaluating. A read whose name is only known at run
//! time, or any other use of `vars` as a whole, is reported as such ([`Reads::all_vars`]).
//! Chains are measured first ([`super::chains`]): a template whose chains are too long is
//! refused before it is parsed.

use std::collections::{BTreeSet, HashSet};

use minijinja::machinery::ast::{CallArg, Expr, Stmt, UnaryOpKind};
use minijinja::machinery::parse;

use super::chains::{chain_depth, MAX_CHAIN};
use super::{Evaluation, Reads};
use crate::error::{Error, ErrorKind, Result};
use crate::path::{Path, Seg};

/// How a template is evaluated and what it reads.
pub struct Inspection {
    pub evaluation: Evaluation,
    pub reads: Reads,
}

/// Analyses `text` (a whole template, trimmed); `locate` turns a syntax error into the
/// report the user sees.
pub fn inspect(text: &str, locate: &dyn Fn(&minijinja::Error) -> Error) -> Result<Inspection> {
    let chain = chain_depth(text);
    if chain > MAX_CHAIN {
        return Err(Error::new(
            ErrorKind::TooComplex,
            format!("an expression chains {chain} operations, more than the {MAX_CHAIN} allowed"),
        )
        .with_hint("split the expression, e.g. with {% set %}"));
    }
    let tree = parse(text, "<template>", Default::default()).map_err(|e| locate(&e))?;
    let Stmt::Template(template) = &tree else {
        return Ok(Inspection {
            evaluation: Evaluation::Text,
            reads: Reads::default(),
        });
    };
    let mut walk = Walk::default();
    walk.body(&template.children);
    let single = match template.children.as_slice() {
        [Stmt::EmitExpr(emit)] if text.starts_with("{{") && text.ends_with("}}") => {
            Some(&emit.expr)
        }
        _ => None,
    };
    let evaluation = match single {
        Some(expr) => path_of(expr).map_or(Evaluation::Expression, Evaluation::Path),
        None => Evaluation::Text,
    };
    Ok(Inspection {
        evaluation,
        reads: walk.reads,
    })
}

/// The bare names a template reads that may be variables: its free names except the ones
/// every template has.
pub fn free_names(undeclared: HashSet<String>) -> BTreeSet<String> {
    undeclared
        .into_iter()
        .filter(|n| !crate::validate::RESERVED.contains(&n.as_str()))
        .collect()
}

/// `{{ a.b[0]['c'] }}` as a path; `None` for any other expression.
fn path_of(expr: &Expr<'_>) -> Option<Path> {
    let mut segs = Vec::new();
    let mut node = expr;
    let root = loop {
        match node {
            Expr::Var(var) => break var.id.to_string(),
            Expr::GetAttr(get) => {
                segs.push(Seg::Key(get.name.to_string()));
                node = &get.expr;
            }
            Expr::GetItem(get) => {
                segs.push(constant_segment(&get.subscript_expr)?);
                node = &get.expr;
            }
            _ => return None,
        }
    };
    segs.reverse();
    Some(Path { root, segs })
}

/// A subscript that is a string or integer literal (a negative one included).
fn constant_segment(expr: &Expr<'_>) -> Option<Seg> {
    match expr {
        Expr::Const(c) => match c.value.as_str() {
            Some(key) => Some(Seg::Key(key.to_string())),
            None if c.value.is_integer() => c.value.as_i64().map(Seg::Index),
            None => None,
        },
        Expr::UnaryOp(op) if matches!(op.op, UnaryOpKind::Neg) => match constant_segment(&op.expr)?
        {
            Seg::Index(i) => i.checked_neg().map(Seg::Index),
            Seg::Key(_) => None,
        },
        _ => None,
    }
}

fn constant_str<'a>(expr: &'a Expr<'_>) -> Option<&'a str> {
    match expr {
        Expr::Const(c) => c.value.as_str(),
        _ => None,
    }
}

/// A collection of variables a template may read members of.
#[derive(Clone, Copy)]
enum Root {
    /// `vars`, or `ctx` (the same in a `set:` block).
    Vars,
    /// One of [`crate::scopes::SET_SCOPES`].
    Scope(&'static str),
}

fn root_of(expr: &Expr<'_>) -> Option<Root> {
    match expr {
        Expr::Var(var) if var.id == "vars" || var.id == "ctx" => Some(Root::Vars),
        Expr::Var(var) => crate::scopes::known(var.id).map(Root::Scope),
        _ => None,
    }
}

/// Collects the variables a template reads.
#[derive(Default)]
struct Walk {
    reads: Reads,
}

impl Walk {
    fn body(&mut self, stmts: &[Stmt<'_>]) {
        for stmt in stmts {
            self.stmt(stmt);
        }
    }

    fn stmt(&mut self, stmt: &Stmt<'_>) {
        match stmt {
            Stmt::Template(t) => self.body(&t.children),
            Stmt::EmitExpr(e) => self.expr(&e.expr),
            Stmt::EmitRaw(_) | Stmt::Continue(_) | Stmt::Break(_) => {}
            Stmt::ForLoop(f) => {
                self.expr(&f.iter);
                self.opt(f.filter_expr.as_ref());
                self.body(&f.body);
                self.body(&f.else_body);
            }
            Stmt::IfCond(i) => {
                self.expr(&i.expr);
                self.body(&i.true_body);
                self.body(&i.false_body);
            }
            Stmt::WithBlock(w) => {
                for (_, value) in &w.assignments {
                    self.expr(value);
                }
                self.body(&w.body);
            }
            Stmt::Set(s) => {
                self.target(&s.target);
                self.expr(&s.expr);
            }
            Stmt::SetBlock(s) => {
                self.target(&s.target);
                self.opt(s.filter.as_ref());
                self.body(&s.body);
            }
            Stmt::AutoEscape(a) => {
                self.expr(&a.enabled);
                self.body(&a.body);
            }
            Stmt::FilterBlock(f) => {
                self.expr(&f.filter);
                self.body(&f.body);
            }
            Stmt::Macro(m) => {
                m.defaults.iter().for_each(|d| self.expr(d));
                self.body(&m.body);
            }
            Stmt::CallBlock(c) => {
                self.expr(&c.call.expr);
                self.args(&c.call.args);
                c.macro_decl.defaults.iter().for_each(|d| self.expr(d));
                self.body(&c.macro_decl.body);
            }
            Stmt::Do(d) => {
                self.expr(&d.call.expr);
                self.args(&d.call.args);
            }
        }
    }

    /// An assignment target reads only what a `ns.x` target's object is made of.
    fn target(&mut self, target: &Expr<'_>) {
        if let Expr::GetAttr(get) = target {
            self.expr(&get.expr);
        }
    }

    fn opt(&mut self, expr: Option<&Expr<'_>>) {
        if let Some(e) = expr {
            self.expr(e);
        }
    }

    fn args(&mut self, args: &[CallArg<'_>]) {
        for arg in args {
            match arg {
                CallArg::Pos(e)
                | CallArg::Kwarg(_, e)
                | CallArg::PosSplat(e)
                | CallArg::KwargSplat(e) => self.expr(e),
            }
        }
    }

    fn read(&mut self, root: Root, name: &str) {
        // No variable's name holds a NUL (PostgreSQL text cannot); a literal that does must not
        // pass for the key of another scope's entry (crate::scopes).
        if name.contains('\0') {
            return;
        }
        match root {
            Root::Vars => {
                self.reads.vars.insert(name.to_string());
            }
            Root::Scope(scope) => {
                self.reads
                    .scoped
                    .insert((scope.to_string(), name.to_string()));
            }
        }
    }

    fn read_all(&mut self, root: Root) {
        match root {
            Root::Vars => self.reads.all_vars = true,
            Root::Scope(scope) => {
                self.reads.scoped_all.insert(scope.to_string());
            }
        }
    }

    fn expr(&mut self, expr: &Expr<'_>) {
        match expr {
            // A collection on its own: enumerated, measured, passed along.
            Expr::Var(_) => {
                if let Some(root) = root_of(expr) {
                    self.read_all(root);
                }
            }
            Expr::Const(_) => {}
            Expr::GetAttr(get) if root_of(&get.expr).is_some() => {
                self.member(&get.expr, Some(get.name))
            }
            Expr::GetItem(get) if root_of(&get.expr).is_some() => {
                self.member(&get.expr, constant_str(&get.subscript_expr));
                self.expr(&get.subscript_expr);
            }
            Expr::Call(call) => self.call(&call.expr, &call.args),
            Expr::GetAttr(get) => self.expr(&get.expr),
            Expr::GetItem(get) => {
                self.expr(&get.expr);
                self.expr(&get.subscript_expr);
            }
            Expr::Slice(s) => {
                self.expr(&s.expr);
                for part in [&s.start, &s.stop, &s.step] {
                    self.opt(part.as_ref());
                }
            }
            Expr::UnaryOp(op) => self.expr(&op.expr),
            Expr::BinOp(op) => {
                self.expr(&op.left);
                self.expr(&op.right);
            }
            Expr::Compare(c) => {
                self.expr(&c.expr);
                c.ops.iter().for_each(|op| self.expr(&op.expr));
            }
            Expr::IfExpr(i) => {
                self.expr(&i.test_expr);
                self.expr(&i.true_expr);
                self.opt(i.false_expr.as_ref());
            }
            Expr::Filter(f) => {
                self.opt(f.expr.as_ref());
                self.args(&f.args);
            }
            Expr::Test(t) => {
                self.expr(&t.expr);
                self.args(&t.args);
            }
            Expr::List(l) => l.items.iter().for_each(|e| self.expr(e)),
            Expr::Tuple(t) => t.items.iter().for_each(|e| self.expr(e)),
            Expr::Map(m) => m.keys.iter().chain(&m.values).for_each(|e| self.expr(e)),
        }
    }

    /// Member `name` of the collection `root` (`None`: a name known only at run time).
    fn member(&mut self, root: &Expr<'_>, name: Option<&str>) {
        if let Some(root) = root_of(root) {
            match name {
                Some(name) => self.read(root, name),
                None => self.read_all(root),
            }
        }
    }

    /// `vars.get('x')` reads `x`; any other method of `vars` (`items()`, `get(name)`) reads
    /// them all. The same holds for `ctx` and the `set:` scopes.
    fn call(&mut self, callee: &Expr<'_>, args: &[CallArg<'_>]) {
        match callee {
            Expr::GetAttr(get) if root_of(&get.expr).is_some() => {
                let constant = match args.first() {
                    Some(CallArg::Pos(first)) if get.name == "get" => constant_str(first),
                    _ => None,
                };
                self.member(&get.expr, constant);
            }
            other => self.expr(other),
        }
        self.args(args);
    }
}

#[cfg(test)]
#[path = "analysis_tests.rs"]
mod tests;
