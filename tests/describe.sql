-- A canonical description of everything noetl_vars installs: the extension's member objects
-- and what belongs to them (columns, defaults, constraints, indexes, triggers, privileges,
-- comments). Two databases with the same output have the same schema.
\pset format unaligned
\pset tuples_only on
\pset footer off
CREATE TEMP VIEW members AS
    SELECT d.classid, d.objid, d.objsubid
    FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
    WHERE d.refclassid = 'pg_extension'::regclass AND e.extname = 'noetl_vars' AND d.deptype = 'e';
CREATE TEMP VIEW member_relations AS
    SELECT c.* FROM pg_class c JOIN members m ON m.classid = 'pg_class'::regclass AND m.objid = c.oid;

SELECT 'member', pg_describe_object(classid, objid, objsubid) FROM members ORDER BY 2;
SELECT 'extension', e.extrelocatable, n.nspname, (SELECT array_agg(c::regclass::text ORDER BY 1) FROM unnest(e.extconfig) c), e.extcondition
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'noetl_vars';
SELECT 'function', p.oid::regprocedure, pg_get_functiondef(p.oid), p.proacl, obj_description(p.oid, 'pg_proc')
FROM pg_proc p JOIN members m ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid ORDER BY p.oid::regprocedure::text;
SELECT 'relation', c.relname, c.relkind, c.relacl, c.relrowsecurity, obj_description(c.oid, 'pg_class')
FROM member_relations c ORDER BY 2;
SELECT 'column', c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       a.attidentity, pg_get_expr(d.adbin, d.adrelid), col_description(c.oid, a.attnum), a.attacl
FROM member_relations c
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
ORDER BY 2, 3;
SELECT 'constraint', con.conrelid::regclass, con.conname, pg_get_constraintdef(con.oid), obj_description(con.oid, 'pg_constraint')
FROM pg_constraint con JOIN member_relations c ON c.oid = con.conrelid ORDER BY con.conrelid::regclass::text, con.conname;
SELECT 'index', i.indexrelid::regclass, pg_get_indexdef(i.indexrelid), obj_description(i.indexrelid, 'pg_class')
FROM pg_index i JOIN member_relations c ON c.oid = i.indrelid ORDER BY i.indexrelid::regclass::text;
SELECT 'trigger', t.tgrelid::regclass, t.tgname, pg_get_triggerdef(t.oid), t.tgenabled, obj_description(t.oid, 'pg_trigger')
FROM pg_trigger t JOIN member_relations c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal ORDER BY t.tgrelid::regclass::text, t.tgname;
SELECT 'view', c.relname, pg_get_viewdef(c.oid) FROM member_relations c WHERE c.relkind = 'v' ORDER BY 2;
SELECT 'sequence', s.seqrelid::regclass, s.seqtypid::regtype, s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle
FROM pg_sequence s JOIN member_relations c ON c.oid = s.seqrelid ORDER BY s.seqrelid::regclass::text;
