/*
 * flamegraph.c - one self-contained HTML file: the profile as a JSON blob
 * (a tree of frames per thread plus an "all threads" tree, each node with
 * total and self sample counts) and a small vanilla-JS renderer drawing
 * an icicle graph of absolutely positioned divs (class "fg-box"), with a
 * tooltip, click to zoom, a reset button, a search box and a thread
 * selector.  Nothing is loaded from the network.
 *
 * Trees are built root first from the resolved stacks; children merge by
 * frame (a function), so pcs and lines of one function merge.  A sample
 * with an empty stack counts as a "(unknown)" frame under the root.
 * Everything from the profile outside the JSON is HTML-escaped; inside the
 * JSON, '<', '>' and '&' (which only occur in strings) are written as
 * \u003c, \u003e and \u0026, so "</script>" cannot end the script element.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "store.h"
#include "formats.h"
#include "writers.h"
#include "stackprof_layout.h"

#define FG_ROOT UINT32_MAX         /* the root of a view */
#define FG_UNKNOWN (UINT32_MAX - 1) /* an empty stack */

struct fg_node {
	uint32_t frame;        /* index into st->frames, FG_ROOT or FG_UNKNOWN */
	uint32_t child, next;  /* first child, next sibling: index + 1, 0 = none */
	uint64_t total, self;
};

struct fg {
	struct fg_node *n;
	size_t len, cap;
};

static int fg_new(struct fg *g, uint32_t frame, uint32_t *idx)
{
	if (g->len == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 64;
		struct fg_node *n = sp_reallocarray(g->n, cap, sizeof(*n));

		if (!n)
			return SP_ERR(-ENOMEM);
		g->n = n;
		g->cap = cap;
	}
	memset(&g->n[g->len], 0, sizeof(g->n[0]));
	g->n[g->len].frame = frame;
	*idx = (uint32_t)g->len++;
	return 0;
}

/* The child of parent for frame, added (first) when missing. */
static int fg_child(struct fg *g, uint32_t parent, uint32_t frame,
                    uint32_t *out)
{
	uint32_t c, idx;
	int err;

	for (c = g->n[parent].child; c; c = g->n[c - 1].next) {
		if (g->n[c - 1].frame == frame) {
			*out = c - 1;
			return 0;
		}
	}
	err = fg_new(g, frame, &idx);
	if (err)
		return err;
	g->n[idx].next = g->n[parent].child;
	g->n[parent].child = idx + 1;
	*out = idx;
	return 0;
}

/* Count one sample of stack s (leaf first) under root. */
static int fg_add(struct fg *g, uint32_t root, const struct sp_stack *s)
{
	uint32_t cur = root, k;
	int err;

	g->n[root].total++;
	if (!s->n) {
		err = fg_child(g, cur, FG_UNKNOWN, &cur);
		if (err)
			return err;
		g->n[cur].total++;
	}
	for (k = s->n; k-- > 0;) {
		err = fg_child(g, cur, s->frames[k], &cur);
		if (err)
			return err;
		g->n[cur].total++;
	}
	g->n[cur].self++;
	return 0;
}

/* Node as [frame, total, self] or [frame, total, self, [children]];
 * frame -1 is the view's root, n_frames the "(unknown)" frame. */
static void put_node(struct sp_sink *s, const struct sp_store *st,
                     const struct fg *g, uint32_t i)
{
	const struct fg_node *n = &g->n[i];
	uint32_t c;

	if (n->frame == FG_ROOT)
		sp_sink_printf(s, "[-1,");
	else if (n->frame == FG_UNKNOWN)
		sp_sink_printf(s, "[%zu,", st->n_frames);
	else
		sp_sink_printf(s, "[%" PRIu32 ",", n->frame);
	sp_sink_printf(s, "%" PRIu64 ",%" PRIu64, n->total, n->self);
	if (n->child) {
		sp_sink_write(s, ",[", 2);
		for (c = n->child; c; c = g->n[c - 1].next) {
			put_node(s, st, g, c - 1);
			if (g->n[c - 1].next)
				sp_sink_putc(s, ',');
		}
		sp_sink_putc(s, ']');
	}
	sp_sink_putc(s, ']');
}

static void thread_label(char *buf, size_t size, const struct sp_thread *t)
{
	snprintf(buf, size, "%.*s (tid %d)", (int)strnlen(t->name,
	         sizeof(t->name)), t->name, (int)t->tid);
}

/* The JSON blob: {"frames":[[name,file,line],...],"views":[{"name":...,
 * "tree":node},...]}, view 0 being all threads. */
static void put_json(struct sp_sink *s, const struct sp_store *st,
                     const struct fg *g)
{
	char label[64];
	size_t i;

	sp_sink_write(s, "{\"frames\":[", 11);
	for (i = 0; i < st->n_frames; i++) {
		const struct sp_frame *f = &st->frames[i];

		sp_sink_putc(s, '[');
		sp_json_str(s, f->name, strlen(f->name));
		sp_sink_putc(s, ',');
		sp_json_str(s, f->file, strlen(f->file));
		sp_sink_printf(s, ",%d],", f->line);
	}
	sp_sink_printf(s, "[\"(unknown)\",\"\",0]],\"views\":[");
	for (i = 0; i <= st->n_threads; i++) {
		if (i)
			sp_sink_putc(s, ',');
		/* tree i is thread i, tree n_threads all threads (view 0) */
		size_t t = i ? i - 1 : st->n_threads;

		if (i)
			thread_label(label, sizeof(label), &st->threads[t]);
		else
			snprintf(label, sizeof(label), "all threads");
		sp_sink_write(s, "{\"name\":", 8);
		sp_json_str(s, label, strlen(label));
		sp_sink_write(s, ",\"tree\":", 8);
		put_node(s, st, g, (uint32_t)t);
		sp_sink_putc(s, '}');
	}
	sp_sink_write(s, "]}", 2);
}

/* Text for HTML content or a quoted attribute value. */
static void put_html(struct sp_sink *s, const char *str, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)str[i];

		switch (c) {
		case '&': sp_sink_write(s, "&amp;", 5); break;
		case '<': sp_sink_write(s, "&lt;", 4); break;
		case '>': sp_sink_write(s, "&gt;", 4); break;
		case '"': sp_sink_write(s, "&quot;", 6); break;
		case '\'': sp_sink_write(s, "&#39;", 5); break;
		default:
			sp_sink_putc(s, c < 0x20 || c == 0x7f ? '?' : c);
		}
	}
}

static const char fg_head[] =
"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
"<meta name=\"viewport\" content=\"width=device-width\">\n"
"<style>\n"
"body{font:13px sans-serif;margin:8px;color:#222;background:#fafafa}\n"
"h1{font-size:15px;margin:0 0 6px}\n"
"#fg-bar{margin-bottom:6px}#fg-bar>*{margin-right:8px}\n"
"#fg-info{color:#555}\n"
"#fg{position:relative;width:100%;overflow:hidden;min-height:20px}\n"
".fg-box{position:absolute;height:17px;line-height:17px;"
"box-sizing:border-box;border:1px solid #fafafa;border-width:0 1px 1px 0;"
"padding:0 3px;overflow:hidden;white-space:nowrap;"
"text-overflow:ellipsis;font:11px monospace;color:#000;cursor:pointer}\n"
".fg-box:hover{border-color:#000}\n"
".fg-match{background:#d060f0!important}\n"
"#fg-tip{position:fixed;display:none;background:#ffffe8;"
"border:1px solid #888;padding:4px 6px;pointer-events:none;"
"white-space:pre;font:12px monospace;z-index:10;max-width:90%;"
"overflow:hidden}\n"
"</style>\n";

static const char fg_bar[] =
"<div id=\"fg-bar\"><label>Thread <select id=\"thread\">\n";

static const char fg_bar_end[] =
"</select></label><button id=\"reset\" type=\"button\">Reset zoom"
"</button><input id=\"search\" type=\"search\" placeholder=\"Search "
"functions\" size=\"24\"><span id=\"fg-info\"></span></div>\n"
"<div id=\"fg\"></div>\n<div id=\"fg-tip\"></div>\n"
"<script type=\"application/json\" id=\"fg-data\">";

static const char fg_script[] =
"</script>\n<script>\n"
"(function(){\n"
"'use strict';\n"
"var D=JSON.parse(document.getElementById('fg-data').textContent);\n"
"var F=D.frames,V=D.views,ROW=18;\n"
"var sel=document.getElementById('thread'),"
"box=document.getElementById('fg'),"
"tip=document.getElementById('fg-tip'),"
"q=document.getElementById('search'),"
"info=document.getElementById('fg-info');\n"
"var view,zoom,boxes=[];\n"
/* sort children by name and link parents, without recursion */
"V.forEach(function(v){var st=[v.tree];while(st.length){var n=st.pop();"
"var k=n[3]||[];k.sort(function(a,b){var x=F[a[0]][0],y=F[b[0]][0];"
"return x<y?-1:x>y?1:0;});k.forEach(function(c){c.p=n;st.push(c);});}});\n"
"function name(n){return n[0]<0?view.name:F[n[0]][0];}\n"
"function color(s){var h=0;for(var i=0;i<s.length;i++)"
"h=(h*31+s.charCodeAt(i))>>>0;"
"return 'hsl('+(h%55)+','+(65+h%25)+'%,'+(58+(h>>>8)%14)+'%)';}\n"
"function pct(x,t){return t?(100*x/t).toFixed(2)+'%':'0%';}\n"
"function add(n,x,w,d,anc){var e=document.createElement('div');"
"e.className='fg-box';e.setAttribute('data-i',boxes.length);"
"boxes.push(n);e.style.left=x+'px';e.style.width=w+'px';"
"e.style.top=(d*ROW)+'px';e.style.background=color(name(n));"
"if(anc)e.style.opacity='0.6';e.textContent=name(n);return e;}\n"
"function render(){\n"
" box.textContent='';boxes=[];\n"
" var W=box.clientWidth||1000,T=zoom[1],frag=document.createDocumentFragment(),"
"path=[],p,d,rows=0;\n"
" for(p=zoom.p;p;p=p.p)path.unshift(p);\n"
" for(d=0;d<path.length;d++)frag.appendChild(add(path[d],0,W,d,true));\n"
" var st=[[zoom,0,path.length]];\n"
" while(st.length){var e=st.pop(),n=e[0],x=e[1];d=e[2];"
"var w=T?n[1]/T*W:W;if(w<1)continue;frag.appendChild(add(n,x,w,d,false));"
"if(d>rows)rows=d;"
"(n[3]||[]).forEach(function(c){st.push([c,x,d+1]);x+=T?c[1]/T*W:0;});}\n"
" box.style.height=((rows+1)*ROW)+'px';box.appendChild(frag);\n"
" highlight();\n"
"}\n"
"function highlight(){var s=q.value.toLowerCase(),m=0,seen=[];\n"
" box.querySelectorAll('.fg-box').forEach(function(e){"
"var n=boxes[+e.getAttribute('data-i')],hit=s!==''&&"
"name(n).toLowerCase().indexOf(s)>=0;e.classList.toggle('fg-match',hit);"
"if(hit)seen.push(n);});\n"
/* matched samples: count a hit only when no ancestor is a hit too */
" seen.forEach(function(n){for(var p=n.p;p;p=p.p)if(seen.indexOf(p)>=0)"
"return;m+=n[1];});\n"
/* one status line: total, zoom and search together */
" info.textContent=view.tree[1]+' samples'+(zoom!==view.tree?"
"', zoomed: '+name(zoom):'')+(s!==''?', matched '+pct(m,view.tree[1]):'');}\n"
"function show(i){view=V[i];zoom=view.tree;render();}\n"
"box.addEventListener('click',function(ev){var e=ev.target.closest('.fg-box');"
"if(!e)return;zoom=boxes[+e.getAttribute('data-i')];render();});\n"
"box.addEventListener('mousemove',function(ev){"
"var e=ev.target.closest('.fg-box');if(!e){tip.style.display='none';return;}"
"var n=boxes[+e.getAttribute('data-i')],f=n[0]<0?null:F[n[0]],"
"t=view.tree[1];\n"
" tip.textContent=name(n)+(f&&f[1]?'\\n'+f[1]+(f[2]?':'+f[2]:''):'')+"
"'\\nsamples: '+n[1]+' ('+pct(n[1],t)+')'+'\\nself: '+n[2]+' ('+"
"pct(n[2],t)+')';\n"
" tip.style.display='block';"
"var x=ev.clientX+12,y=ev.clientY+14;"
"if(x+tip.offsetWidth>innerWidth)x=Math.max(0,innerWidth-tip.offsetWidth-4);"
"if(y+tip.offsetHeight>innerHeight)y=ev.clientY-tip.offsetHeight-8;"
"tip.style.left=x+'px';tip.style.top=y+'px';});\n"
"box.addEventListener('mouseleave',function(){tip.style.display='none';});\n"
"document.getElementById('reset').addEventListener('click',function(){"
"zoom=view.tree;q.value='';render();});\n"
"q.addEventListener('input',highlight);\n"
"sel.addEventListener('change',function(){show(+sel.value);});\n"
"window.addEventListener('resize',function(){render();});\n"
"show(+sel.value||0);\n"
"})();\n"
"</script>\n</body>\n</html>\n";

/* The HTML page around the JSON text json[0..len). */
static void put_page(struct sp_sink *s, const struct sp_store *st,
                     const struct fg *g, const char *json, size_t len)
{
	const char *mode = sp_stackprof_mode_name(st);
	char label[64];
	size_t i;

	sp_sink_write(s, fg_head, sizeof(fg_head) - 1);
	sp_sink_printf(s, "<title>stillprof flame graph (pid %d)</title>\n"
	               "</head>\n<body>\n<h1>stillprof flame graph: pid %d, "
	               "mode ", (int)st->info.pid, (int)st->info.pid);
	put_html(s, mode ? mode : "?", mode ? strlen(mode) : 1);
	sp_sink_printf(s, ", %zu samples</h1>\n", st->n_samples);
	sp_sink_write(s, fg_bar, sizeof(fg_bar) - 1);
	for (i = 0; i <= st->n_threads; i++) {
		uint64_t n = i ? g->n[i - 1].total : g->n[st->n_threads].total;

		if (i)
			thread_label(label, sizeof(label), &st->threads[i - 1]);
		else
			snprintf(label, sizeof(label), "all threads");
		sp_sink_printf(s, "<option value=\"%zu\">", i);
		put_html(s, label, strlen(label));
		sp_sink_printf(s, " - %" PRIu64 " samples</option>\n", n);
	}
	sp_sink_write(s, fg_bar_end, sizeof(fg_bar_end) - 1);
	for (i = 0; i < len; i++) {
		switch (json[i]) {
		case '<': sp_sink_write(s, "\\u003c", 6); break;
		case '>': sp_sink_write(s, "\\u003e", 6); break;
		case '&': sp_sink_write(s, "\\u0026", 6); break;
		default: sp_sink_putc(s, json[i]);
		}
	}
	sp_sink_write(s, fg_script, sizeof(fg_script) - 1);
}

int sp_flamegraph_write(const struct sp_store *st, const void *opts,
                        struct sp_sink *sink)
{
	struct fg g = {0};
	struct sp_sink js;
	uint32_t idx;
	size_t i;
	int err = 0;

	(void)opts;
	for (i = 0; i < st->n_stacks; i++)
		if (st->stacks[i].n && !st->stacks[i].frames)
			return SP_ERR(-EINVAL); /* sp_store_resolve first */
	for (i = 0; i < st->n_samples; i++)
		if (st->samples[i].thread >= st->n_threads ||
		    st->samples[i].stack >= st->n_stacks)
			return SP_ERR(-EINVAL);
	/* roots: tree t < n_threads is thread t, tree n_threads all */
	for (i = 0; !err && i <= st->n_threads; i++)
		err = fg_new(&g, FG_ROOT, &idx);
	for (i = 0; !err && i < st->n_samples; i++) {
		const struct sp_sample *sm = &st->samples[i];
		const struct sp_stack *sk = &st->stacks[sm->stack];

		err = fg_add(&g, sm->thread, sk);
		if (!err)
			err = fg_add(&g, (uint32_t)st->n_threads, sk);
	}
	if (err) {
		sp_free(g.n);
		return err;
	}
	sp_sink_init_mem(&js);
	put_json(&js, st, &g);
	if (js.err) {
		err = js.err;
	} else {
		put_page(sink, st, &g, js.buf, js.len);
		err = sink->err;
	}
	sp_sink_fini(&js);
	sp_free(g.n);
	return err;
}
